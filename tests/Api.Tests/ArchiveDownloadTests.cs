using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LoraService.Domain.Artifacts;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;

namespace LoraService.Api.Tests;

public sealed class ArchiveDownloadTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task An_archive_is_zipped_on_its_first_download_and_kept()
    {
        var tenant = await Seed.AdminTenantAsync(factory.Database);
        var job = await FinishedJobs.SeedAsync(factory, tenant, JobStatus.Succeeded);
        var key = $"{JobStorageKeys.Output(job.Id)}/adapter.zip";
        var archive = new Artifact { JobId = job.Id, TenantId = tenant, Kind = "adapter_archive", FileName = "adapter.zip", ContentType = "application/zip", StorageKey = key };
        await using (var db = factory.Database.CreateContext())
        {
            db.Artifacts.Add(archive);
            await db.SaveChangesAsync();
        }
        var admin = factory.CreateClient(TestKeys.Admin);
        JsonElement Listed(JsonElement list) => list.EnumerateArray().Single(a => a.GetProperty("kind").GetString() == "adapter_archive");

        var before = Listed(await admin.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}/artifacts"));
        Assert.Equal(JsonValueKind.Null, before.GetProperty("sha256").ValueKind);
        Assert.False(File.Exists(Path.Combine(factory.ArtifactsPath, key)));

        var first = await admin.GetAsync($"/api/v1/artifacts/{archive.Id}/content");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var bytes = await first.Content.ReadAsByteArrayAsync();
        using (var zip = new ZipArchive(new MemoryStream(bytes)))
            Assert.Equal(["adapter/adapter_config.json", "adapter/adapter_model.safetensors"], zip.Entries.Select(e => e.FullName).Order());
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        Assert.Equal(sha, first.Headers.GetValues("X-Checksum-Sha256").Single());

        var after = Listed(await admin.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}/artifacts"));
        Assert.Equal((sha, (long)bytes.Length), (after.GetProperty("sha256").GetString(), after.GetProperty("bytes").GetInt64()));
        var cached = File.GetLastWriteTimeUtc(Path.Combine(factory.ArtifactsPath, key));
        var second = await admin.GetAsync($"/api/v1/artifacts/{archive.Id}/content");
        Assert.Equal(bytes, await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(cached, File.GetLastWriteTimeUtc(Path.Combine(factory.ArtifactsPath, key)));
    }
}
