using LoraService.Datasets.Samples;

namespace LoraService.Datasets.Tests;

public sealed class SampleDatasetsTests
{
    [Theory]
    [InlineData("source-text", DatasetFormat.Text)]
    [InlineData("source-mc", DatasetFormat.MultipleChoice)]
    [InlineData("arith-train", DatasetFormat.PromptCompletion)]
    [InlineData("arith-valid", DatasetFormat.PromptCompletion)]
    [InlineData("arith-em", DatasetFormat.ExactMatch)]
    public async Task Every_sample_file_passes_the_upload_validator(string name, DatasetFormat format)
    {
        var directory = Directory.CreateTempSubdirectory("lora-samples-").FullName;
        try
        {
            var paths = SampleDatasets.WriteAll(directory, trainRows: 50, evalRows: 10);
            await using var file = File.OpenRead(paths[name]);
            var result = await JsonlValidator.ValidateAsync(file);
            Assert.True(result.IsValid, string.Join("; ", result.Errors));
            Assert.Equal(format, result.Format);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Arithmetic_completions_end_with_the_gsm8k_answer_of_the_sum()
    {
        foreach (var line in SampleDatasets.ArithmeticPromptCompletion(20))
        {
            using var row = System.Text.Json.JsonDocument.Parse(line);
            var prompt = row.RootElement.GetProperty("prompt").GetString()!;
            var parts = prompt.TrimEnd('=').Split('+').Select(int.Parse).ToArray();
            Assert.EndsWith($"#### {parts[0] + parts[1]}", row.RootElement.GetProperty("completion").GetString());
        }
    }
}
