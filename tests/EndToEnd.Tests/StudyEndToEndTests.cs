using System.Diagnostics;
using System.Text.Json;
using LoraService.TestSupport;

namespace LoraService.EndToEnd.Tests;

/// <summary>
/// The forgetting study's quick profile (`./lora.sh study --quick`) against a real API and worker: pretrain, promote, the
/// grid, the report. Asserts only what the study shows with a margin, not the numbers themselves.
/// </summary>
public sealed class StudyEndToEndTests(Service service) : IClassFixture<Service>, IAsyncLifetime
{
    private readonly string _out = Directory.CreateTempSubdirectory("lora-study-").FullName;

    public async Task InitializeAsync()
    {
        if (service.WorkerOutput().Length == 0) await service.StartWorkerAsync("study-worker");
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_out, recursive: true);
        return Task.CompletedTask;
    }

    private static string StudyDll()
    {
        var testBin = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var root = Path.GetFullPath(Path.Combine(testBin, "../../../../.."));
        return Path.Combine(root, "src", "Study", "bin", Path.GetFileName(Path.GetDirectoryName(testBin)!), Path.GetFileName(testBin), "LoraService.Study.dll");
    }

    [Fact]
    [Trait("Category", "Study")]
    public async Task The_quick_study_shows_full_fine_tuning_forgetting_more_with_a_higher_rank_update_than_lora_r1()
    {
        var doc = Path.Combine(_out, "study.md");
        var start = new ProcessStartInfo("dotnet", [StudyDll(), "--api", service.Api.Url, "--key", TestKeys.Admin, "--quick", "--doc", doc, "--work", Path.Combine(_out, "work")])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // A guard against a hung run, not the budget: the profile takes about 3 minutes of two idle cores, far longer on a loaded machine.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the study did not finish within 30 minutes:\n{await stdout + await stderr}");
        }
        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"the study failed:\n{output}\n{service.WorkerOutput()}");

        var result = JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(doc, ".json"))).RootElement;
        Assert.True(new FileInfo(Path.ChangeExtension(doc, ".png")).Length > 10_000, "the plot is missing");
        var report = File.ReadAllText(doc);
        Assert.Contains("./lora.sh study --quick", report);
        Assert.Contains("![learning vs forgetting](study.png)", report);

        // The base model learned its world: well above the 0.25 of guessing among four choices.
        var pretraining = result.GetProperty("pretraining");
        Assert.True(pretraining.GetProperty("acc_norm_after").GetDouble() >= 0.5, $"pretraining reached only {pretraining}\n{report}");

        var jobs = result.GetProperty("jobs").EnumerateArray().ToList();
        JsonElement Best(int? rank) => jobs.Where(j => j.GetProperty("point").GetProperty("rank") is var r && (rank is null ? r.ValueKind == JsonValueKind.Null : r.ValueKind == JsonValueKind.Number && r.GetInt32() == rank))
            .MaxBy(j => j.GetProperty("learning").GetDouble());
        var full = Best(null);
        var r1 = Best(1);
        var r16 = Best(16);
        Assert.True(full.GetProperty("forgetting").GetDouble() > r1.GetProperty("forgetting").GetDouble(), $"full fine-tuning should forget more than LoRA r=1:\n{report}");
        foreach (var lora in new[] { r1, r16 })
        {
            Assert.True(full.GetProperty("rank90_attention").GetDouble() > lora.GetProperty("rank90_attention").GetDouble(), report);
            Assert.True(full.GetProperty("rank90_mlp").GetDouble() > lora.GetProperty("rank90_mlp").GetDouble(), report);
        }
        Assert.Equal(1, r1.GetProperty("rank90_attention").GetDouble());
        Assert.True(full.GetProperty("trainable_parameters").GetInt64() > r16.GetProperty("trainable_parameters").GetInt64());
        Assert.True(r16.GetProperty("trainable_parameters").GetInt64() > r1.GetProperty("trainable_parameters").GetInt64());
    }
}
