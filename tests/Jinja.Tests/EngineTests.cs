using System.Text.Json;

namespace LoraService.Jinja.Tests;

public sealed class EngineTests
{
    private static readonly JsonElement Cases = JsonDocument.Parse(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "engine", "engine-cases.json"))).RootElement;

    private static readonly TemplateOptions Options = TemplateOptions.ChatTemplate with { Now = () => new DateTime(2026, 7, 6) };

    public static TheoryData<int> CaseIndexes() => new(Enumerable.Range(0, Cases.GetArrayLength()));

    private static string Render(string source, object? variables = null) =>
        Template.Parse(source, Options).Render(Variables(variables));

    private static Dictionary<string, object?> Variables(object? variables) => variables is null
        ? []
        : JsonSerializer.SerializeToElement(variables).EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);

    /// <summary>Loops, slicing, arithmetic, tests, filters, string and dict methods, whitespace control, as Python Jinja2 renders them.</summary>
    [Theory]
    [MemberData(nameof(CaseIndexes))]
    public void Renders_like_python_jinja2(int index)
    {
        var golden = Cases[index];
        var variables = golden.GetProperty("variables").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
        var template = Template.Parse(golden.GetProperty("template").GetString()!, Options);
        Assert.Equal(golden.GetProperty("expected").GetString(), template.Render(variables));
    }

    [Fact]
    public void Raise_exception_raises_its_own_type_with_the_message() =>
        Assert.Equal("bad roles", Assert.Throws<TemplateRaisedException>(() => Render("{{ raise_exception('bad roles') }}")).Reason);

    [Fact]
    public void Attribute_access_on_an_undefined_value_fails_with_its_position()
    {
        var error = Assert.Throws<TemplateRuntimeException>(() => Render("line one\n{{ m.role }} and {{ m.missing.deeper }}", new { m = new { role = "user" } }));
        Assert.Equal(new SourcePosition(2, 30), error.Position);
        Assert.Contains("'dict object' has no attribute 'missing'", error.Message);
    }

    [Theory]
    [InlineData("{% for x in y %}", 1, "unexpected end of template; expected 'else' or 'endfor'")]
    [InlineData("a\n{% filter upper %}x{% endfilter %}", 2, "unsupported tag 'filter'")]
    [InlineData("{{ 1 + }}", 1, "unexpected end of print statement")]
    [InlineData("{{ 'open }}", 1, "unterminated string")]
    public void Unsupported_or_invalid_syntax_fails_at_parse_time_with_a_line(string source, int line, string message)
    {
        var error = Assert.Throws<TemplateSyntaxException>(() => Template.Parse(source));
        Assert.Equal(line, error.Position?.Line);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Unknown_filters_fail_when_rendered() =>
        Assert.Contains("no filter named 'frobnicate'", Assert.Throws<TemplateRuntimeException>(() => Render("{{ 1 | frobnicate }}")).Message);

    [Fact]
    public void Generation_blocks_render_their_content_and_report_its_spans()
    {
        var template = Template.Parse(
            "{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}{{ m.content }}</s>{% endgeneration %}" +
            "{% else %}{{ m.content }}{% endif %}{% endfor %}");
        var result = template.RenderWithSpans(Variables(new
        {
            messages = new[] { new { role = "user", content = "hi" }, new { role = "assistant", content = "yo" } },
        }));
        Assert.True(template.HasGenerationBlocks);
        Assert.Equal("<user>hi<assistant>yo</s>", result.Text);
        var span = Assert.Single(result.GenerationSpans);
        Assert.Equal("yo</s>", result.Text[span.Start..span.End]);
    }

    [Fact]
    public void Cannot_assign_attributes_of_anything_but_a_namespace() =>
        Assert.Contains("non-namespace", Assert.Throws<TemplateRuntimeException>(() => Render("{% set d = {} %}{% set d.x = 1 %}")).Message);
}
