namespace LoraService.Contracts.Sweeps;

/// <summary>One job on the learning/forgetting plane: learning up is better, forgetting down is better.</summary>
public readonly record struct TradeOffPoint(double Learning, double Forgetting)
{
    public bool IsFinite => double.IsFinite(Learning) && double.IsFinite(Forgetting);
}

/// <summary>
/// The Pareto front of a set of jobs and the best job under a forgetting limit. A missing (null) or non-finite point
/// takes no part. A point is on the front unless another one dominates it: at least as much learning and at most as
/// much forgetting, and strictly better on one of the two. So identical points are all on the front (neither beats the
/// other), and of two points with equal learning only the one that forgets less is.
/// </summary>
public static class ParetoFront
{
    public static bool[] Mark(IReadOnlyList<TradeOffPoint?> points)
    {
        var onFront = new bool[points.Count];
        for (var i = 0; i < points.Count; i++)
        {
            if (points[i] is not { IsFinite: true } p) continue;
            onFront[i] = !points.Any(q => q is { IsFinite: true } other && Dominates(other, p));
        }
        return onFront;
    }

    public static bool Dominates(TradeOffPoint a, TradeOffPoint b) =>
        a.Learning >= b.Learning && a.Forgetting <= b.Forgetting && (a.Learning > b.Learning || a.Forgetting < b.Forgetting);

    /// <summary>
    /// The index of the point with the most learning whose forgetting is at most <paramref name="maxForgetting"/> (no
    /// limit when null); equal learning → the one that forgets less → the first. Null when no point is within the limit.
    /// The answer is always on the front.
    /// </summary>
    public static int? BestWithin(IReadOnlyList<TradeOffPoint?> points, double? maxForgetting)
    {
        int? best = null;
        for (var i = 0; i < points.Count; i++)
        {
            if (points[i] is not { IsFinite: true } p || p.Forgetting > maxForgetting) continue;
            if (best is not { } b) { best = i; continue; }
            var current = points[b]!.Value;
            if (p.Learning > current.Learning || (p.Learning == current.Learning && p.Forgetting < current.Forgetting)) best = i;
        }
        return best;
    }
}
