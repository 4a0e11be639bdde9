namespace LoraService.Worker.Jobs;

/// <summary>This process's name in job rows (host:pid unless configured) and its device kind.</summary>
internal sealed record WorkerIdentity(string Name, string Device);
