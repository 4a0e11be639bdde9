using LoraService.Datasets;

namespace LoraService.Tokenization.Planning;

/// <summary>The file behind a dataset reference.</summary>
public sealed record DatasetFile(string Path, DatasetFormat Format);
