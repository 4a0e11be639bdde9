using LoraService.Contracts.Jobs;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LoraService.Domain.Jobs;
using LoraService.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Tests;

public sealed class DatasetsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private HttpClient Admin => factory.CreateClient(TestKeys.Admin);

    private static MultipartFormDataContent Form(string jsonl, string? name = null, string? format = null, string fileName = "data.jsonl")
    {
        var form = new MultipartFormDataContent();
        if (name is not null) form.Add(new StringContent(name), "name");
        if (format is not null) form.Add(new StringContent(format), "format");
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(jsonl));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
        form.Add(file, "file", fileName);
        return form;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    private string StoredFiles() => string.Join(",", Directory.Exists(factory.ArtifactsPath)
        ? Directory.GetFiles(factory.ArtifactsPath, "*", SearchOption.AllDirectories).Select(Path.GetFileName)
        : []);

    [Theory]
    [InlineData("{\"text\": \"hello world\"}\n{\"text\": \"again\"}\n", "text", 2)]
    [InlineData("{\"prompt\": \"2+2=\", \"completion\": \"4\"}\n", "prompt_completion", 1)]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n", "messages", 1)]
    [InlineData("{\"context\": \"The sky is\", \"choices\": [\"blue\", \"green\"], \"label\": 0}\n", "multiple_choice", 1)]
    [InlineData("{\"prompt\": \"What is 6*7?\", \"answer\": \"42\"}\n", "exact_match", 1)]
    public async Task Each_format_is_detected_stored_and_described(string jsonl, string format, int rows)
    {
        var response = await Admin.PostAsync("/api/v1/datasets", Form(jsonl, name: "my " + format));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var dataset = await Json(response);
        Assert.Equal(format, dataset.GetProperty("format").GetString());
        Assert.Equal(rows, dataset.GetProperty("rows").GetInt64());
        Assert.Equal(Encoding.UTF8.GetByteCount(jsonl), dataset.GetProperty("bytes").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(jsonl))), dataset.GetProperty("sha256").GetString());
        Assert.Equal("my " + format, dataset.GetProperty("name").GetString());

        var id = dataset.GetProperty("id").GetGuid();
        var fetched = await Json(await Admin.GetAsync($"/api/v1/datasets/{id}"));
        Assert.Equal(rows, fetched.GetProperty("preview").GetArrayLength());
    }

    [Theory]
    [InlineData("{\"text\": \"ok\"}\n{\"text\": 5}\n", "line 2: text")]
    [InlineData("{\"text\": \"ok\"}\nnot json\n", "line 2:")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, {\"role\": \"robot\", \"content\": \"c\"}]}\n", "line 1: messages[2].role must be one of system, user, assistant")]
    [InlineData("{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"label\": 2}\n", "line 1: label")]
    [InlineData("", "empty")]
    [InlineData("{\"text\": \"a\"}\n\n{\"text\": \"b\"}\n", "line 2:")]
    public async Task Invalid_files_are_422_with_the_line_and_leave_nothing_behind(string jsonl, string expected)
    {
        var before = await CountDatasetsAsync();
        var response = await Admin.PostAsync("/api/v1/datasets", Form(jsonl));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await Json(response);
        var messages = problem.GetProperty("errors").GetProperty("file").EnumerateArray().Select(m => m.GetString()!).ToList();
        Assert.Contains(messages, m => m.Contains(expected, StringComparison.OrdinalIgnoreCase));
        Assert.Equal(before, await CountDatasetsAsync());
        Assert.DoesNotContain(".tmp", StoredFiles());
    }

    [Fact]
    public async Task Invalid_utf8_is_reported_by_line()
    {
        var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent([.. "{\"text\": \"ok\"}\n{\"text\": \""u8, 0xC3, 0x28, .. "\"}\n"u8]), "file", "bad.jsonl");
        var response = await Admin.PostAsync("/api/v1/datasets", form);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("line 2", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Many_errors_are_counted_and_the_first_ones_listed()
    {
        var jsonl = string.Concat(Enumerable.Range(0, 100).Select(i => i == 0 ? "{\"text\": \"ok\"}\n" : "{\"text\": 1}\n"));
        var problem = await Json(await Admin.PostAsync("/api/v1/datasets", Form(jsonl)));
        Assert.Equal(99, problem.GetProperty("total_errors").GetInt64());
        Assert.Contains("79 more errors", problem.GetProperty("errors").GetProperty("file").EnumerateArray().Last().GetString());
    }

    [Fact]
    public async Task A_format_that_disagrees_with_the_rows_is_refused()
    {
        var response = await Admin.PostAsync("/api/v1/datasets", Form("{\"text\": \"a\"}\n", format: "exact_match"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var unknown = await Admin.PostAsync("/api/v1/datasets", Form("{\"text\": \"a\"}\n", format: "csv"));
        Assert.Contains("format must be one of", await unknown.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_upload_over_the_limit_is_413_and_stores_nothing()
    {
        var small = factory.WithWebHostBuilder(b => b.UseSetting("Datasets:MaxUploadBytes", "1000"));
        var client = small.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestKeys.Admin);
        var before = await CountDatasetsAsync();
        var big = string.Concat(Enumerable.Repeat("{\"text\": \"0123456789012345678901234567890123456789\"}\n", 100));
        var response = await client.PostAsync("/api/v1/datasets", Form(big));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(before, await CountDatasetsAsync());
        Assert.DoesNotContain(".tmp", StoredFiles());
    }

    [Fact]
    public async Task A_request_without_a_file_is_422()
    {
        var form = new MultipartFormDataContent { { new StringContent("x"), "name" } };
        var response = await Admin.PostAsync("/api/v1/datasets", form);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("'file'", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Datasets_belong_to_their_tenant_and_cannot_be_deleted_while_a_job_uses_them()
    {
        var created = await Json(await Admin.PostAsync("/api/v1/datasets", Form("{\"text\": \"a\"}\n")));
        var id = created.GetProperty("id").GetGuid();

        var (_, otherKey) = await Seed.OtherTenantAsync(factory);
        var other = factory.CreateClient(otherKey);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/api/v1/datasets/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.DeleteAsync($"/api/v1/datasets/{id}")).StatusCode);
        Assert.DoesNotContain(id.ToString(), await other.GetStringAsync("/api/v1/datasets"));

        await using (var db = factory.Database.CreateContext())
        {
            db.Jobs.Add(new FineTuneJob { TenantId = await Seed.AdminTenantAsync(factory.Database), Spec = new JobSpec { BaseModel = "m", TrainingDataset = id.ToString() } });
            await db.SaveChangesAsync();
        }
        var refused = await Admin.DeleteAsync($"/api/v1/datasets/{id}");
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);

        await using (var db = factory.Database.CreateContext())
        {
            var job = (await db.Jobs.Where(j => j.Status == JobStatus.Queued).ToListAsync()).Single(j => j.Spec.TrainingDataset == id.ToString());
            job.MoveTo(JobStatus.Cancelled, DateTimeOffset.UtcNow);
            await db.SaveChangesAsync();
        }
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/datasets/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.GetAsync($"/api/v1/datasets/{id}")).StatusCode);
        Assert.DoesNotContain(id.ToString("N"), StoredFiles());
    }

    private async Task<int> CountDatasetsAsync()
    {
        await using var db = factory.Database.CreateContext();
        return await db.Datasets.CountAsync();
    }
}
