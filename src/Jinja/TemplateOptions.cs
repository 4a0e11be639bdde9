namespace LoraService.Jinja;

/// <summary>Environment settings; the defaults are those transformers uses for chat templates.</summary>
public sealed record TemplateOptions
{
    public bool TrimBlocks { get; init; } = true;
    public bool LstripBlocks { get; init; } = true;
    public bool KeepTrailingNewline { get; init; }

    /// <summary>The clock behind the <c>strftime_now</c> global.</summary>
    public Func<DateTime> Now { get; init; } = () => DateTime.Now;

    public static TemplateOptions ChatTemplate { get; } = new();
}
