namespace LoraService.Jinja.Syntax;

/// <summary>Statements: the tags chat templates use. Anything else is a syntax error naming the tag.</summary>
internal sealed partial class Parser
{
    private readonly List<Token> _tokens;
    private int _index;

    private Parser(List<Token> tokens) => _tokens = tokens;

    public static IReadOnlyList<Stmt> Parse(string source, TemplateOptions options)
    {
        var parser = new Parser(Lexer.Tokenize(source, options));
        var body = parser.Body([]);
        if (parser.Current.Kind != TokenKind.Eof) throw parser.Error($"unexpected '{parser.Current.Value}'");
        return body;
    }

    private Token Current => _tokens[_index];
    private Token Peek(int ahead = 1) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];
    private Token Next() => _tokens[_index++];

    private TemplateSyntaxException Error(string message, Token? at = null) => new(message, (at ?? Current).Position);

    private Token Expect(TokenKind kind, string? value = null)
    {
        var token = Current;
        if (token.Kind != kind || (value is not null && token.Value != value))
            throw Error($"expected {value ?? kind.ToString()}, found {Describe(token)}");
        _index++;
        return token;
    }

    private static string Describe(Token token) => token.Kind switch
    {
        TokenKind.Eof => "end of template",
        TokenKind.BlockEnd => "end of tag",
        TokenKind.VariableEnd => "end of print statement",
        _ => $"'{token.Value}'",
    };

    private bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op)) return false;
        _index++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        _index++;
        return true;
    }

    /// <summary>Statements up to a block tag whose name is in <paramref name="endTags"/> (left unconsumed after the <c>{%</c>).</summary>
    private List<Stmt> Body(string[] endTags)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.Eof:
                    if (endTags.Length > 0) throw Error($"unexpected end of template; expected '{string.Join("' or '", endTags)}'");
                    return body;
                case TokenKind.Text:
                    _index++;
                    body.Add(new TextStmt(token.Value, token.Position));
                    break;
                case TokenKind.VariableBegin:
                    _index++;
                    body.Add(new PrintStmt(Expression(), token.Position));
                    Expect(TokenKind.VariableEnd);
                    break;
                case TokenKind.BlockBegin:
                    if (Peek().Kind == TokenKind.Name && endTags.Contains(Peek().Value))
                    {
                        _index++;
                        return body;
                    }
                    _index++;
                    body.Add(Statement(token.Position));
                    break;
                default:
                    throw Error($"unexpected {Describe(token)}");
            }
        }
    }

    private Stmt Statement(SourcePosition at)
    {
        var tag = Current;
        if (tag.Kind != TokenKind.Name) throw Error($"expected a tag name, found {Describe(tag)}");
        _index++;
        switch (tag.Value)
        {
            case "if": return If(at);
            case "for": return For(at);
            case "set": return Set(at);
            case "macro": return Macro(at);
            case "break": Expect(TokenKind.BlockEnd); return new BreakStmt(at);
            case "continue": Expect(TokenKind.BlockEnd); return new ContinueStmt(at);
            case "generation":
                Expect(TokenKind.BlockEnd);
                var body = Body(["endgeneration"]);
                EndTag("endgeneration");
                return new GenerationStmt(body, at);
            default:
                throw Error($"unsupported tag '{tag.Value}'", tag);
        }
    }

    private void EndTag(string name)
    {
        Expect(TokenKind.Name, name);
        Expect(TokenKind.BlockEnd);
    }

    private IfStmt If(SourcePosition at)
    {
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        var test = Expression();
        Expect(TokenKind.BlockEnd);
        while (true)
        {
            var body = Body(["elif", "else", "endif"]);
            branches.Add((test, body));
            var tag = Next().Value;
            if (tag == "elif")
            {
                test = Expression();
                Expect(TokenKind.BlockEnd);
                continue;
            }
            List<Stmt> elseBody = [];
            if (tag == "else")
            {
                Expect(TokenKind.BlockEnd);
                elseBody = Body(["endif"]);
                _index++;
            }
            Expect(TokenKind.BlockEnd);
            return new IfStmt(branches, elseBody, at);
        }
    }

    private ForStmt For(SourcePosition at)
    {
        var targets = new List<string> { Expect(TokenKind.Name).Value };
        while (SkipOperator(",")) targets.Add(Expect(TokenKind.Name).Value);
        Expect(TokenKind.Name, "in");
        var iterable = Expression(withCondition: false);
        Expr? filter = SkipName("if") ? Expression(withCondition: false) : null;
        if (Current.IsName("recursive")) throw Error("recursive loops are not supported");
        Expect(TokenKind.BlockEnd);
        var body = Body(["else", "endfor"]);
        List<Stmt> elseBody = [];
        if (Next().Value == "else")
        {
            Expect(TokenKind.BlockEnd);
            elseBody = Body(["endfor"]);
            _index++;
        }
        Expect(TokenKind.BlockEnd);
        return new ForStmt(targets, iterable, filter, body, elseBody, at);
    }

    private Stmt Set(SourcePosition at)
    {
        var first = Expect(TokenKind.Name).Value;
        if (SkipOperator("."))
        {
            var attribute = Expect(TokenKind.Name).Value;
            Expect(TokenKind.Operator, "=");
            var value = Expression();
            Expect(TokenKind.BlockEnd);
            return new SetStmt([attribute], first, value, at);
        }
        var targets = new List<string> { first };
        while (SkipOperator(",")) targets.Add(Expect(TokenKind.Name).Value);
        if (Current.Kind == TokenKind.BlockEnd && targets.Count == 1)
        {
            _index++;
            var body = Body(["endset"]);
            EndTag("endset");
            return new SetBlockStmt(first, body, at);
        }
        Expect(TokenKind.Operator, "=");
        var expr = TupleOrExpression();
        Expect(TokenKind.BlockEnd);
        return new SetStmt(targets, null, expr, at);
    }

    private MacroStmt Macro(SourcePosition at)
    {
        var name = Expect(TokenKind.Name).Value;
        Expect(TokenKind.Operator, "(");
        var parameters = new List<(string, Expr?)>();
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",");
            if (SkipOperator(")")) break;
            var parameter = Expect(TokenKind.Name).Value;
            parameters.Add((parameter, SkipOperator("=") ? Expression() : null));
        }
        Expect(TokenKind.BlockEnd);
        var body = Body(["endmacro"]);
        _index++;
        if (Current.Kind == TokenKind.Name) _index++;
        Expect(TokenKind.BlockEnd);
        return new MacroStmt(name, parameters, body, at);
    }
}
