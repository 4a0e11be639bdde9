using System.Diagnostics;
using System.Text.Json;

namespace LoraService.Cli.Tests;

public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Output) Cli(params string[] args)
    {
        var testBin = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var dll = Path.GetFullPath(Path.Combine(testBin, "../../../../../src/Cli/bin",
            Path.GetFileName(Path.GetDirectoryName(testBin)!), Path.GetFileName(testBin), "LoraService.Cli.dll"));
        var start = new ProcessStartInfo("dotnet", [dll, .. args]) { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void Train_runs_a_spec_writes_the_service_artifacts_and_a_rerun_resumes_instead_of_repeating()
    {
        Assert.Equal(0, Cli("create-model", "--arch", "gpt2", "--out", "model", "--hidden", "32", "--heads", "4", "--positions", "64").Code);
        Assert.Equal(0, Cli("samples", "--out", "samples", "--train-rows", "60", "--eval-rows", "6").Code);
        // The body of POST /api/v1/jobs, with a checkpoint folder and files for references.
        File.WriteAllText(Path.Combine(_dir, "spec.json"), """
            {
              "base_model": "model", "method": "lora", "lora": { "rank": 2 },
              "hyperparameters": { "learning_rate": 0.01, "max_steps": 4, "batch_size": 4, "micro_batch_size": 2, "max_sequence_length": 32 },
              "training_dataset": "samples/source-text.jsonl",
              "evaluation": { "source": ["samples/source-mc.jsonl"], "every_n_steps": 2, "max_examples": 6 },
              "checkpoint_every": 2
            }
            """);

        var (code, output) = Cli("train", "spec.json");
        Assert.True(code == 0, output);
        Assert.Contains("completed: 4/4 steps", output);
        Assert.Contains("eval step     0", output);
        foreach (var file in new[] { "adapter/adapter_model.safetensors", "adapter/adapter_config.json", "merged/model.safetensors", "summary.json", "spectral.json", "metrics.jsonl" })
            Assert.True(File.Exists(Path.Combine(_dir, "spec.out", file)), file);
        Assert.True(Directory.Exists(Path.Combine(_dir, "spec.work", "checkpoints")));
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "spec.out/adapter/adapter_config.json")));
        Assert.Equal(["c_attn", "c_fc", "c_proj"], config.RootElement.GetProperty("target_modules").EnumerateArray().Select(t => t.GetString()).Order());
        // The adapter names the model the way a user loads it, never a path on this machine.
        Assert.Equal("model", config.RootElement.GetProperty("base_model_name_or_path").GetString());

        var (again, rerun) = Cli("train", "spec.json");
        Assert.Equal(0, again);
        Assert.DoesNotContain("step     1/4", rerun);
    }

    [Fact]
    public void Train_stops_at_max_wall_time_with_a_checkpoint_and_a_rerun_continues_from_it()
    {
        Assert.Equal(0, Cli("create-model", "--arch", "gpt2", "--out", "model", "--hidden", "32", "--heads", "4", "--positions", "64").Code);
        Assert.Equal(0, Cli("samples", "--out", "samples", "--train-rows", "60", "--eval-rows", "6").Code);
        File.WriteAllText(Path.Combine(_dir, "long.json"), """
            {
              "base_model": "model", "lora": { "rank": 2 },
              "hyperparameters": { "max_steps": 1000000, "batch_size": 4, "micro_batch_size": 2, "max_sequence_length": 32 },
              "training_dataset": "samples/source-text.jsonl", "checkpoint_every": 10, "max_wall_time": "00:00:10"
            }
            """);

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var (code, output) = Cli("train", "long.json", "--quiet");
        Assert.True(code == 130, output);
        Assert.InRange(watch.Elapsed.TotalSeconds, 10, 60);
        Assert.Contains("stopped at max_wall_time (00:00:10)", output);
        var stopped = int.Parse(System.Text.RegularExpressions.Regex.Match(output, @"cancelled: (\d+)/1000000 steps").Groups[1].Value);
        Assert.True(Directory.Exists(Path.Combine(_dir, "long.work", "checkpoints", $"checkpoint-{stopped:D8}")), output);

        (code, output) = Cli("train", "long.json", "--quiet");
        Assert.Equal(130, code);
        Assert.Contains($"Resuming from step {stopped}", output);
    }

    [Fact]
    public void Parity_fixtures_hold_a_checkpoint_an_adapter_that_changes_it_and_a_merged_export_that_agrees_with_it()
    {
        var (code, output) = Cli("parity-fixtures", "--out", "fixtures");
        Assert.True(code == 0, output);
        var cases = Directory.GetDirectories(Path.Combine(_dir, "fixtures")).Select(d => Path.GetFileName(d)!).Order().ToArray();
        Assert.Equal(["gemma2-window-8", "llama-rope-llama3-headdim-bias", "llama-tied-rslora", "mistral-window-8", "phi3", "qwen3"], cases);
        foreach (var name in cases)
        {
            var dir = Path.Combine(_dir, "fixtures", name);
            foreach (var file in new[] { "base/config.json", "base/model.safetensors", "adapter/adapter_config.json", "adapter/adapter_model.safetensors", "merged/model.safetensors" })
                Assert.True(File.Exists(Path.Combine(dir, file)), $"{name}: {file}");
            using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "expected.json")));
            double[][] Logits(string key) => expected.RootElement.GetProperty(key).EnumerateArray()
                .Select(row => row.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
            static double MaxDiff(double[][] a, double[][] b) => a.Zip(b, (x, y) => x.Zip(y, (u, v) => Math.Abs(u - v)).Max()).Max();
            var (baseLogits, adapted, merged) = (Logits("base_logits"), Logits("adapted_logits"), Logits("merged_logits"));
            Assert.Equal(24, baseLogits.Length);
            // The device check compares each of the three with transformers/PEFT: the adapter must change the logits, and the
            // merged export (W0 + s·B·A written and read back) must agree with the adapter computed on the side.
            Assert.True(MaxDiff(adapted, baseLogits) > 0.1, $"{name}: the adapter hardly changes the logits");
            Assert.True(MaxDiff(adapted, merged) < 1e-4, $"{name}: merged {MaxDiff(adapted, merged)} from the adapter");
        }
        using var rsLora = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "fixtures/llama-tied-rslora/adapter/adapter_config.json")));
        Assert.True(rsLora.RootElement.GetProperty("use_rslora").GetBoolean());
        using var gemma = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "fixtures/gemma2-window-8/base/config.json")));
        Assert.Equal(40, gemma.RootElement.GetProperty("attn_logit_softcapping").GetDouble());
    }

    [Fact]
    public void A_bad_spec_or_verb_is_a_usage_error_that_says_what_is_wrong()
    {
        File.WriteAllText(Path.Combine(_dir, "bad.json"), """{ "base_model": "", "training_dataset": "missing.jsonl", "hyperparameters": { "learning_rate": 2 } }""");
        var (code, output) = Cli("train", "bad.json");
        Assert.Equal(2, code);
        Assert.Contains("base_model: base_model is required.", output);
        Assert.Contains("training_dataset: No dataset missing.jsonl (no such file).", output);
        Assert.Contains("hyperparameters.learning_rate: learning_rate must be in (0, 1).", output);

        File.WriteAllText(Path.Combine(_dir, "typo.json"), """{ "base_model": "m", "training_dataset": "t.jsonl", "hyperparameter": {} }""");
        (code, output) = Cli("train", "typo.json");
        Assert.Equal(2, code);
        Assert.Contains("'hyperparameter'", output);
        Assert.Equal(2, Cli("fly").Code);
        Assert.Equal(2, Cli("train").Code);
    }
}
