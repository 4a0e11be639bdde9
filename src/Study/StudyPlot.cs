using ScottPlot;

namespace LoraService.Study;

/// <summary>Learning (y) against forgetting (x), the paper's picture: every grid job as a point with a faint path through its evaluated steps.</summary>
static class StudyPlot
{
    private static readonly Color[] Palette =
        [Colors.Black, Color.FromHex("#1f77b4"), Color.FromHex("#2ca02c"), Color.FromHex("#ff7f0e"), Color.FromHex("#d62728"), Color.FromHex("#9467bd")];

    public static void Save(StudyResult result, string path)
    {
        var plot = new Plot();
        var best = result.Best.Select(b => b.JobId).ToHashSet();
        var labels = result.Jobs.Select(j => j.Point.Label).Distinct().ToList();
        foreach (var job in result.Jobs)
        {
            var color = Palette[labels.IndexOf(job.Point.Label) % Palette.Length];
            if (job.Path.Count > 1)
            {
                var line = plot.Add.Scatter(job.Path.Select(p => p.Forgetting).ToArray(), job.Path.Select(p => p.Learning).ToArray(), color.WithAlpha(0.35));
                line.MarkerSize = 0;
                line.LineWidth = 1;
            }
            var isBest = best.Contains(job.JobId);
            var marker = plot.Add.Marker(job.Forgetting, job.Learning, isBest ? MarkerShape.FilledCircle : MarkerShape.OpenCircle, isBest ? 11 : 7, color);
            if (isBest)
            {
                marker.LegendText = $"{job.Point.Label} (lr {job.Point.LearningRate:g2})";
                var text = plot.Add.Text(job.Point.Label, job.Forgetting, job.Learning);
                text.LabelFontSize = 11;
                text.LabelFontColor = color;
                text.OffsetX = 6;
                text.OffsetY = -6;
            }
        }
        plot.Title($"Learning vs forgetting ({result.Profile.Name} profile; filled: best learning rate)");
        plot.XLabel("forgetting: source held-out loss increase");
        plot.YLabel("learning: target loss decrease");
        plot.ShowLegend(Alignment.LowerRight);
        // Room right of the points for their labels.
        var xs = result.Jobs.SelectMany(j => j.Path.Select(p => p.Forgetting).Append(j.Forgetting)).Append(0).ToList();
        var ys = result.Jobs.SelectMany(j => j.Path.Select(p => p.Learning).Append(j.Learning)).Append(0).ToList();
        double xSpan = Math.Max(xs.Max() - xs.Min(), 1e-3), ySpan = Math.Max(ys.Max() - ys.Min(), 1e-3);
        plot.Axes.SetLimits(xs.Min() - 0.05 * xSpan, xs.Max() + 0.2 * xSpan, ys.Min() - 0.05 * ySpan, ys.Max() + 0.1 * ySpan);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, 900, 600);
    }
}
