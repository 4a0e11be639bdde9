namespace LoraService.Worker.Jobs;

/// <summary>
/// Buffers an attempt's metric points and writes them in one fenced statement per batch (see <see cref="JobLease"/>).
/// Points re-sent after a resume (the engine repeats the steps after its last checkpoint) overwrite the old ones.
/// </summary>
internal sealed class MetricWriter(JobLease lease)
{
    private readonly Lock _gate = new();
    private List<(string Name, int Step, double Value)> _pending = [];
    private List<int> _evaluated = [];

    public void Add(string name, int step, double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value)) return;
        lock (_gate) _pending.Add((name, step, value));
    }

    /// <summary>An evaluation ran at <paramref name="step"/>: its <c>job.evaluated</c> webhook is written with the next flush, with its points.</summary>
    public void AddEvaluated(int step)
    {
        lock (_gate) _evaluated.Add(step);
    }

    /// <summary>False when the lease is gone: nothing was written, and nothing more should be.</summary>
    public async Task<bool> FlushAsync(CancellationToken ct = default)
    {
        List<(string Name, int Step, double Value)> batch;
        List<int> evaluated;
        lock (_gate)
        {
            if (_pending.Count == 0 && _evaluated.Count == 0) return true;
            (batch, _pending) = (_pending, []);
            (evaluated, _evaluated) = (_evaluated, []);
        }
        try
        {
            return await lease.WriteMetricsAsync(batch, ct, evaluated);
        }
        catch
        {
            // Keep the points and events for the next flush: a database hiccup must not lose them.
            lock (_gate)
            {
                _pending.InsertRange(0, batch);
                _evaluated.InsertRange(0, evaluated);
            }
            throw;
        }
    }
}
