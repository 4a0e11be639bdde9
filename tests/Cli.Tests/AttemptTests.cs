using System.Collections.Concurrent;
using System.Diagnostics;
using LoraService.Contracts.Attempts;
using LoraService.Training.Tests;

namespace LoraService.Cli.Tests;

/// <summary>
/// The hidden <c>attempt</c> verb as a worker drives it: a real child process, protocol lines on stdout, commands on
/// stdin, real TorchSharp on a tiny GPT-2 the test creates.
/// </summary>
public sealed class AttemptTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-attempt-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static string CliDll()
    {
        var testBin = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        return Path.GetFullPath(Path.Combine(testBin, "../../../../../src/Cli/bin",
            Path.GetFileName(Path.GetDirectoryName(testBin)!), Path.GetFileName(testBin), "LoraService.Cli.dll"));
    }

    private void RunCli(params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo("dotnet", [CliDll(), .. args]) { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, output.Result + error.Result);
    }

    /// <summary>An attempt's spec as a worker writes it: the resolved job and the files behind its references.</summary>
    private string Spec(int steps, int checkpointEvery, int evalEvery = 0, string? validation = null, int maxExamples = 6)
    {
        if (!Directory.Exists(Path.Combine(_dir, "model")))
        {
            RunCli("create-model", "--arch", "gpt2", "--out", "model", "--hidden", "32", "--heads", "4", "--positions", "64");
            RunCli("samples", "--out", "samples", "--train-rows", "60", "--eval-rows", "6");
        }
        var validationReference = validation is null ? "" : "\"validation_dataset\": \"valid\",";
        var validationFile = validation is null ? "" : $$"""
            "valid": { "id": "00000000-0000-0000-0000-000000000003", "name": "valid", "path": "{{validation}}", "format": "text" },
            """;
        File.WriteAllText(Path.Combine(_dir, "spec.json"), $$"""
            {
              "job": {
                "base_model": "model", "method": "lora", "lora": { "rank": 2 },
                "hyperparameters": { "learning_rate": 0.01, "max_steps": {{steps}}, "batch_size": 4, "micro_batch_size": 2, "max_sequence_length": 32 },
                "training_dataset": "train", {{validationReference}}
                "evaluation": { "source": ["mc"], "every_n_steps": {{evalEvery}}, "max_examples": {{maxExamples}} },
                "checkpoint_every": {{checkpointEvery}}, "keep_checkpoints": 0
              },
              "model_directory": "model", "base_model_name": "model",
              "datasets": {
                {{validationFile}}
                "train": { "id": "00000000-0000-0000-0000-000000000001", "name": "train", "path": "samples/source-text.jsonl", "format": "text" },
                "mc": { "id": "00000000-0000-0000-0000-000000000002", "name": "mc", "path": "samples/source-mc.jsonl", "format": "multiple_choice" }
              },
              "work_directory": "work", "output_directory": "out"
            }
            """);
        return "spec.json";
    }

    /// <summary>A running attempt: every stdout line parsed with <see cref="AttemptProtocol.Parse"/> as it arrives.</summary>
    private sealed class Child : IDisposable
    {
        public readonly Process Process;
        public readonly BlockingCollection<(string Line, AttemptMessage? Message)> Lines = new();
        public readonly List<AttemptMessage> Messages = [];
        private readonly Task<string> _stderr;
        private readonly Task _reader;

        public Child(string dir, string spec, IReadOnlyDictionary<string, string>? environment = null)
        {
            var start = new ProcessStartInfo("dotnet", [CliDll(), "attempt", spec])
            {
                WorkingDirectory = dir, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            foreach (var (key, value) in environment ?? new Dictionary<string, string>())
                start.Environment[key] = value;
            Process = Process.Start(start)!;
            _stderr = Process.StandardError.ReadToEndAsync();
            _reader = Task.Run(() =>
            {
                while (Process.StandardOutput.ReadLine() is { } line)
                    Lines.Add((line, AttemptProtocol.Parse(line)));
                Lines.CompleteAdding();
            });
        }

        public string Stderr => _stderr.IsCompleted ? _stderr.Result : "(running)";

        /// <summary>The next protocol line within the timeout, or null at EOF / timeout.</summary>
        public AttemptMessage? Next(TimeSpan timeout)
        {
            if (!Lines.TryTake(out var item, timeout)) return null;
            Assert.True(item.Message is not null, $"not a protocol line on stdout: {item.Line}");
            Messages.Add(item.Message!);
            return item.Message;
        }

        public T WaitFor<T>(Func<T, bool>? predicate = null, int seconds = 60) where T : AttemptMessage
        {
            var deadline = DateTime.UtcNow.AddSeconds(seconds);
            while (DateTime.UtcNow < deadline)
            {
                var message = Next(deadline - DateTime.UtcNow);
                if (message is T t && (predicate is null || predicate(t))) return t;
                if (message is null && Lines.IsCompleted) break;
            }
            throw new Xunit.Sdk.XunitException($"no {typeof(T).Name} came; got {string.Join(", ", Messages.Select(m => m.GetType().Name))}\n{Stderr}");
        }

        public List<AttemptMessage> ReadToEnd(int seconds = 120)
        {
            Assert.True(_reader.Wait(TimeSpan.FromSeconds(seconds)), "the child did not close stdout");
            while (Lines.TryTake(out var item)) { Assert.NotNull(item.Message); Messages.Add(item.Message!); }
            Assert.True(Process.WaitForExit(TimeSpan.FromSeconds(seconds)));
            return Messages;
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }

    [Fact]
    public void An_attempt_reports_started_baseline_steps_checkpoints_and_a_completed_result_with_its_files()
    {
        using var child = new Child(_dir, Spec(steps: 4, checkpointEvery: 2, evalEvery: 2));
        var messages = child.ReadToEnd();

        Assert.True(child.Process.ExitCode == 0, child.Stderr);
        Assert.Equal(child.Process.Id, Assert.IsType<AttemptStarted>(messages[0]).Pid);
        var milestones = messages.Where(m => m is not (AttemptEvent or AttemptAlive)).Select(m => m switch
        {
            AttemptEvaluation e => $"eval {e.Step}",
            AttemptSamples x => $"samples {x.Step}",
            AttemptStep s => $"step {s.Step}/{s.TotalSteps}",
            AttemptCheckpoint c => $"checkpoint {c.Step}",
            AttemptResult r => $"result {r.Outcome} {r.StepsCompleted}/{r.TotalSteps}",
            _ => m.GetType().Name,
        });
        Assert.Equal(["AttemptStarted", "eval 0", "samples 0", "step 1/4", "step 2/4", "eval 2", "samples 2", "checkpoint 2", "step 3/4", "step 4/4",
            "eval 4", "samples 4", "checkpoint 4", "result completed 4/4"], milestones);
        var result = Assert.IsType<AttemptResult>(messages[^1]);
        Assert.Contains(result.Files, f => f is { Kind: "adapter", RelativePath: "adapter/adapter_model.safetensors" });
        Assert.Contains(result.Files, f => f.Kind == "summary");
        Assert.All(result.Files, f => Assert.True(File.Exists(Path.Combine(_dir, "out", f.RelativePath)), f.RelativePath));
        Assert.All(messages.OfType<AttemptCheckpoint>(), c => Assert.True(Directory.Exists(Path.Combine(_dir, c.Directory)), c.Directory));
        Assert.Equal(2, Assert.IsType<AttemptEvaluation>(messages.First(m => m is AttemptEvaluation)).Measurements.Count);
    }

    [Fact]
    public void A_long_baseline_evaluation_sends_alive_lines_and_a_stop_during_it_cancels_without_a_step()
    {
        var rows = Enumerable.Range(0, 30000).Select(i => $$"""{"text": "The river {{i}} runs past the old mill and on to the sea."}""");
        File.WriteAllLines(Path.Combine(_dir, "valid.jsonl"), rows);
        Spec(steps: 4, checkpointEvery: 1, validation: "valid.jsonl", maxExamples: 30000);

        using var child = new Child(_dir, "spec.json");
        // Reading and tokenizing the data may already send a "preparing" line on a busy machine: wait for the baseline.
        Assert.Equal("evaluating", child.WaitFor<AttemptAlive>(a => a.Phase == "evaluating").Phase);
        child.Process.StandardInput.WriteLine(AttemptProtocol.StopCommand);
        child.Process.StandardInput.Flush();
        var messages = child.ReadToEnd();

        Assert.True(child.Process.ExitCode == 0, child.Stderr);
        var result = Assert.IsType<AttemptResult>(messages[^1]);
        Assert.Equal("cancelled", result.Outcome);
        Assert.Equal(0, result.StepsCompleted);
        Assert.DoesNotContain(messages, m => m is AttemptStep or AttemptEvaluation or AttemptCheckpoint);
    }

    [Fact]
    public void Stop_on_stdin_ends_the_attempt_after_the_current_step_with_a_checkpoint_and_a_cancelled_result()
    {
        using var child = new Child(_dir, Spec(steps: 5000, checkpointEvery: 0));
        child.WaitFor<AttemptStep>(s => s.Step >= 2);
        child.Process.StandardInput.WriteLine(AttemptProtocol.StopCommand);
        child.Process.StandardInput.Flush();
        var messages = child.ReadToEnd();

        Assert.True(child.Process.ExitCode == 0, child.Stderr);
        var result = Assert.IsType<AttemptResult>(messages[^1]);
        Assert.Equal("cancelled", result.Outcome);
        Assert.Empty(result.Files);
        var lastStep = messages.OfType<AttemptStep>().Last().Step;
        Assert.Equal(lastStep, result.StepsCompleted);
        var checkpoint = Assert.Single(messages.OfType<AttemptCheckpoint>());
        Assert.Equal(lastStep, checkpoint.Step);
        Assert.True(Directory.Exists(Path.Combine(_dir, checkpoint.Directory)));
        Assert.True(lastStep < 5000);
    }

    [Fact]
    public void Closing_stdin_makes_the_attempt_exit_at_once_with_code_75_and_write_nothing_more()
    {
        using var child = new Child(_dir, Spec(steps: 5000, checkpointEvery: 1));
        child.WaitFor<AttemptCheckpoint>(c => c.Step >= 3);
        child.Process.StandardInput.Close();

        // A checkpoint per step on a 5000-step run: a child that ignored the closed pipe would still be writing them.
        Assert.True(child.Process.WaitForExit(TimeSpan.FromSeconds(10)), "the orphan kept running after stdin closed");
        Assert.Equal(75, child.Process.ExitCode);
        var messages = child.ReadToEnd();
        Assert.DoesNotContain(messages, m => m is AttemptResult or AttemptError);
        var checkpoints = Directory.GetDirectories(Path.Combine(_dir, "work", "checkpoints")).Order().ToList();
        Thread.Sleep(1000);
        Assert.Equal(checkpoints, Directory.GetDirectories(Path.Combine(_dir, "work", "checkpoints")).Order().ToList());
    }

    [Fact]
    public void Sigterm_behaves_like_stop()
    {
        using var child = new Child(_dir, Spec(steps: 5000, checkpointEvery: 0));
        child.WaitFor<AttemptStep>(s => s.Step >= 2);
        Assert.Equal(0, Kill(child.Process.Id, 15));
        var messages = child.ReadToEnd();
        Assert.True(child.Process.ExitCode == 0, child.Stderr);
        Assert.Equal("cancelled", Assert.IsType<AttemptResult>(messages[^1]).Outcome);
        Assert.Single(messages.OfType<AttemptCheckpoint>());
    }

    [Fact]
    public void Crash_failpoint_kills_the_process_by_sigkill_which_dotnet_reports_as_exit_code_137()
    {
        using var child = new Child(_dir, Spec(steps: 50, checkpointEvery: 0), new Dictionary<string, string> { ["LORA_FAILPOINT"] = "crash@2" });
        var messages = child.ReadToEnd();
        Assert.Equal(137, child.Process.ExitCode); // 128 + SIGKILL
        Assert.Equal(2, Assert.IsType<AttemptStep>(messages[^1]).Step);
    }

    [Fact]
    public void Hang_failpoint_goes_silent_while_alive_and_stdin_eof_still_ends_it()
    {
        using var child = new Child(_dir, Spec(steps: 50, checkpointEvery: 0), new Dictionary<string, string> { ["LORA_FAILPOINT"] = "hang@2" });
        child.WaitFor<AttemptStep>(s => s.Step == 2);
        Assert.Null(child.Next(TimeSpan.FromSeconds(4))); // not even an alive line: no progress
        Assert.False(child.Process.HasExited);

        child.Process.StandardInput.Close();
        Assert.True(child.Process.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Equal(75, child.Process.ExitCode);
    }

    [Fact]
    public void Oom_failpoint_reports_the_real_libtorch_allocation_failure_as_out_of_memory()
    {
        using var child = new Child(_dir, Spec(steps: 50, checkpointEvery: 0), new Dictionary<string, string> { ["LORA_FAILPOINT"] = "oom@1" });
        var messages = child.ReadToEnd();
        Assert.Equal(1, child.Process.ExitCode);
        var error = Assert.IsType<AttemptError>(messages[^1]);
        Assert.Equal("out_of_memory", error.Code);
        Assert.Contains("allocate", error.Message);
        Assert.DoesNotContain("frame #", error.Message);
    }

    [Fact]
    public void Failpoints_fire_only_in_the_named_attempt_and_exit_uses_its_code()
    {
        var env = new Dictionary<string, string> { ["LORA_FAILPOINT"] = "exit@1:42", ["LORA_FAILPOINT_ATTEMPT"] = "2", ["LORA_ATTEMPT"] = "2" };
        using (var child = new Child(_dir, Spec(steps: 3, checkpointEvery: 0), env))
        {
            child.ReadToEnd();
            Assert.Equal(42, child.Process.ExitCode);
        }
        env["LORA_ATTEMPT"] = "1";
        using (var child = new Child(_dir, Spec(steps: 3, checkpointEvery: 0) , env))
        {
            var messages = child.ReadToEnd();
            Assert.True(child.Process.ExitCode == 0, child.Stderr);
            Assert.Equal("completed", Assert.IsType<AttemptResult>(messages[^1]).Outcome);
        }
    }

    [Fact]
    public void A_spec_the_engine_refuses_is_an_invalid_input_error()
    {
        File.WriteAllText(Path.Combine(_dir, "bad.json"), """{ "model_directory": "nowhere", "training_dataset": { "id": "00000000-0000-0000-0000-000000000001", "path": "none.jsonl", "format": "text" }, "work_directory": "w", "output_directory": "o" }""");
        using var child = new Child(_dir, "bad.json");
        var messages = child.ReadToEnd();
        Assert.Equal(1, child.Process.ExitCode);
        Assert.Equal("invalid_input", Assert.IsType<AttemptError>(messages[^1]).Code);
    }

    [Fact]
    public void A_resume_on_changed_base_model_weights_is_a_base_model_changed_error()
    {
        var spec = Spec(steps: 2, checkpointEvery: 1);
        using (var first = new Child(_dir, spec))
        {
            first.ReadToEnd();
            Assert.True(first.Process.ExitCode == 0, first.Stderr);
        }
        var weights = Directory.GetFiles(Path.Combine(_dir, "model"), "*.safetensors").Order(StringComparer.Ordinal).Last();
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 0x01;
        File.WriteAllBytes(weights, bytes);

        using var resumed = new Child(_dir, spec);
        var messages = resumed.ReadToEnd();
        Assert.Equal(1, resumed.Process.ExitCode);
        var error = Assert.IsType<AttemptError>(messages[^1]);
        Assert.Equal("base_model_changed", error.Code);
        Assert.Contains(Path.GetFileName(weights), error.Message, StringComparison.Ordinal);
    }

    [SmallFilesystemFact]
    public void An_attempt_whose_work_folder_is_on_a_full_disk_ends_with_a_disk_full_error_not_a_crash()
    {
        var spec = Spec(steps: 2, checkpointEvery: 1);
        using var disk = SmallFilesystem.Mount(1L << 20);
        disk.FillLeaving(0);
        Directory.CreateSymbolicLink(Path.Combine(_dir, "work"), disk.Path);

        using var child = new Child(_dir, spec);
        var messages = child.ReadToEnd();

        Assert.True(child.Process.ExitCode == 1, child.Stderr);
        var error = Assert.IsType<AttemptError>(messages[^1]);
        Assert.Equal(DiskFullException.Code, error.Code);
        Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(messages, m => m is AttemptStep or AttemptCheckpoint);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
