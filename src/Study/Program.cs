using System.Text.Json;
using LoraService.Study;

// ./lora.sh study [--quick]: the forgetting study through the REST API of a running service.
const string Usage = """
    usage: LoraService.Study --api URL --key KEY [--quick] [--doc PATH] [--plot PATH] [--results PATH] [--work DIR] [--command TEXT]
           LoraService.Study --from-results PATH [--quick] [--doc PATH] [--plot PATH]   (render the report again from a run's results)
      Runs the forgetting study (pretrain a small model on a synthetic world, promote it, fine-tune it on arithmetic with
      full fine-tuning and LoRA at several ranks and learning rates) and writes the report, the plot and the raw results.
      Defaults: docs/forgetting-study.md (quick: docs/forgetting-study-quick.md), the plot next to it (.png), results next to it (.json).
    """;

var options = new Dictionary<string, string?>();
for (var i = 0; i < args.Length; i++)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal)) return Fail($"unexpected argument '{args[i]}'");
    var name = args[i][2..];
    options[name] = name is "quick" or "help" ? null : i + 1 < args.Length ? args[++i] : null;
}
if (options.ContainsKey("help")) { Console.WriteLine(Usage); return 0; }
string? Option(string name) => options.TryGetValue(name, out var v) ? v : null;
var unknown = options.Keys.Except(["api", "key", "quick", "doc", "plot", "results", "work", "command", "from-results"]).ToList();
if (unknown.Count > 0) return Fail($"unknown option --{unknown[0]}");

var quick = options.ContainsKey("quick");
var doc = Path.GetFullPath(Option("doc") ?? (quick ? "docs/forgetting-study-quick.md" : "docs/forgetting-study.md"));
var plot = Path.GetFullPath(Option("plot") ?? Path.ChangeExtension(doc, ".png"));
var results = Path.GetFullPath(Option("results") ?? Path.ChangeExtension(doc, ".json"));
var command = Option("command") ?? "./lora.sh study" + (quick ? " --quick" : "");

StudyResult result;
string machine;
if (Option("from-results") is { } saved)
{
    // Renders the report and plot again from a run's results (its numbers and machine line), without running anything.
    result = JsonSerializer.Deserialize<StudyResult>(File.ReadAllText(saved), StudyResult.Json) ?? throw new InvalidDataException(saved);
    machine = result.Machine;
}
else
{
    if (Option("api") is not { } api || Option("key") is not { } key) return Fail("--api and --key are required");
    var profile = quick ? StudyProfile.Quick : StudyProfile.Full;
    var work = Option("work") ?? Path.Combine(Path.GetTempPath(), "lora-study-" + Guid.NewGuid().ToString("N")[..8]);
    machine = Machine.Describe();
    Console.Error.WriteLine($"[study] {profile.Name} profile against {api}; {machine}");
    using var client = new ServiceClient(api, key);
    result = await new StudyRunner(client, profile, work, Console.Error).RunAsync();
    machine += $"; load average at the end {Machine.LoadAverage()}";
    result = result with { Machine = machine };
}

Directory.CreateDirectory(Path.GetDirectoryName(doc)!);
StudyPlot.Save(result, plot);
File.WriteAllText(doc, StudyReport.Write(result, command, machine, Path.GetRelativePath(Path.GetDirectoryName(doc)!, plot)));
File.WriteAllText(results, JsonSerializer.Serialize(result, StudyResult.Json));
Console.Error.WriteLine($"[study] done in {result.Seconds / 60:0.0} min: {doc}, {plot}, {results}");
return 0;

static int Fail(string message)
{
    Console.Error.WriteLine($"error: {message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
