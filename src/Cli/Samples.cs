using LoraService.Datasets.Samples;

namespace LoraService.Cli;

/// <summary><c>samples --out DIR</c>: the generated quickstart datasets (source-domain sentences, target-domain arithmetic).</summary>
static class Samples
{
    public static int Run(Args a)
    {
        var output = a.Required("out");
        var trainRows = a.Int("train-rows") ?? 400;
        var evalRows = a.Int("eval-rows") ?? 40;
        a.EnsureAllUsed();
        foreach (var (name, path) in SampleDatasets.WriteAll(output, trainRows, evalRows))
            Console.WriteLine($"{name,-12} {path}");
        return 0;
    }
}
