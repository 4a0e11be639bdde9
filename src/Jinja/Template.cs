using LoraService.Jinja.Runtime;
using LoraService.Jinja.Syntax;

namespace LoraService.Jinja;

/// <summary>Characters [Start, Start+Length) of the output that a <c>{% generation %}</c> block produced.</summary>
public readonly record struct GenerationSpan(int Start, int Length)
{
    public int End => Start + Length;
}

public sealed record RenderResult(string Text, IReadOnlyList<GenerationSpan> GenerationSpans);

/// <summary>A parsed Jinja template. Parsing fails with <see cref="TemplateSyntaxException"/>; rendering with <see cref="TemplateException"/>s.</summary>
public sealed class Template
{
    private readonly IReadOnlyList<Stmt> _body;
    private readonly TemplateOptions _options;

    private Template(IReadOnlyList<Stmt> body, TemplateOptions options)
    {
        _body = body;
        _options = options;
    }

    public static Template Parse(string source, TemplateOptions? options = null)
    {
        options ??= TemplateOptions.ChatTemplate;
        return new Template(Parser.Parse(source, options), options);
    }

    /// <summary>True when the template has <c>{% generation %}</c> blocks that mark trained assistant text.</summary>
    public bool HasGenerationBlocks => ContainsGeneration(_body);

    /// <summary>
    /// Renders with these variables (strings, numbers, bools, null, lists, dictionaries or JsonElements);
    /// a variable not given is undefined.
    /// </summary>
    public RenderResult RenderWithSpans(IReadOnlyDictionary<string, object?> variables) => Renderer.Render(_body, variables, _options);

    public string Render(IReadOnlyDictionary<string, object?> variables) => RenderWithSpans(variables).Text;

    private static bool ContainsGeneration(IEnumerable<Stmt> body) => body.Any(statement => statement switch
    {
        GenerationStmt => true,
        IfStmt s => s.Branches.Any(b => ContainsGeneration(b.Body)) || ContainsGeneration(s.Else),
        ForStmt s => ContainsGeneration(s.Body) || ContainsGeneration(s.Else),
        SetBlockStmt s => ContainsGeneration(s.Body),
        MacroStmt s => ContainsGeneration(s.Body),
        _ => false,
    });
}
