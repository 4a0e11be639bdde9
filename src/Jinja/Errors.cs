namespace LoraService.Jinja;

/// <summary>A position in template source, 1-based.</summary>
public readonly record struct SourcePosition(int Line, int Column)
{
    public override string ToString() => $"line {Line}, column {Column}";
}

/// <summary>Any failure to parse or render a template.</summary>
public abstract class TemplateException(string message, SourcePosition? position)
    : Exception(position is { } p ? $"{message} (at {p})" : message)
{
    public SourcePosition? Position { get; } = position;
    public string Reason { get; } = message;
}

/// <summary>The template uses syntax this engine does not parse (or that is invalid).</summary>
public sealed class TemplateSyntaxException(string message, SourcePosition position) : TemplateException(message, position);

/// <summary>Rendering failed: an undefined attribute, a type error, an unsupported filter at run time…</summary>
public sealed class TemplateRuntimeException(string message, SourcePosition? position) : TemplateException(message, position);

/// <summary>The template called <c>raise_exception(message)</c> (transformers' TemplateError); <see cref="TemplateException.Reason"/> is its message.</summary>
public sealed class TemplateRaisedException(string message, SourcePosition? position) : TemplateException(message, position);
