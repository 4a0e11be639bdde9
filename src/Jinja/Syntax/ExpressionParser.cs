using System.Globalization;

namespace LoraService.Jinja.Syntax;

/// <summary>Expressions, with Jinja2's precedence: or, and, not, comparisons, + -, ~, * / // %, **, unary, then postfix and filters.</summary>
internal sealed partial class Parser
{
    private static readonly HashSet<string> CompareOperators = ["==", "!=", "<", ">", "<=", ">="];

    private Expr TupleOrExpression()
    {
        var first = Expression();
        if (!Current.IsOperator(",")) return first;
        var items = new List<Expr> { first };
        while (SkipOperator(",")) items.Add(Expression());
        return new TupleExpr(items, first.Position);
    }

    private Expr Expression(bool withCondition = true)
    {
        var expr = Or();
        if (!withCondition) return expr;
        while (Current.IsName("if"))
        {
            var at = Next().Position;
            var test = Or();
            Expr? otherwise = SkipName("else") ? Expression() : null;
            expr = new ConditionalExpr(test, expr, otherwise, at);
        }
        return expr;
    }

    private Expr Or() => LeftAssociative(And, t => t.IsName("or"));

    private Expr And() => LeftAssociative(Not, t => t.IsName("and"));

    private Expr Not()
    {
        if (!Current.IsName("not")) return Compare();
        var at = Next().Position;
        return new UnaryExpr("not", Not(), at);
    }

    private Expr Compare()
    {
        var first = Sum();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOperators.Contains(Current.Value)) rest.Add((Next().Value, Sum()));
            else if (SkipName("in")) rest.Add(("in", Sum()));
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                _index += 2;
                rest.Add(("not in", Sum()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, first.Position);
    }

    private Expr Sum() => LeftAssociative(Concat, t => t.IsOperator("+") || t.IsOperator("-"));

    private Expr Concat() => LeftAssociative(Product, t => t.IsOperator("~"));

    private Expr Product() => LeftAssociative(Power, t => t.Kind == TokenKind.Operator && t.Value is "*" or "/" or "//" or "%");

    private Expr Power() => LeftAssociative(() => Unary(withFilter: true), t => t.IsOperator("**"));

    private Expr LeftAssociative(Func<Expr> operand, Func<Token, bool> isOperator)
    {
        var left = operand();
        while (isOperator(Current))
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, operand(), op.Position);
        }
        return left;
    }

    private Expr Unary(bool withFilter)
    {
        Expr node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            var op = Next();
            node = new UnaryExpr(op.Value, Unary(withFilter: false), op.Position);
        }
        else node = Primary();
        node = Postfix(node);
        return withFilter ? FiltersAndTests(node) : node;
    }

    private Expr Primary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new ConstExpr(true, token.Position),
                    "false" or "False" => new ConstExpr(false, token.Position),
                    "none" or "None" => new ConstExpr(null, token.Position),
                    _ => new NameExpr(token.Value, token.Position),
                };
            case TokenKind.String:
                var text = token.Value;
                while (Current.Kind == TokenKind.String) text += Next().Value;
                return new ConstExpr(text, token.Position);
            case TokenKind.Integer:
                return new ConstExpr(long.Parse(token.Value, CultureInfo.InvariantCulture), token.Position);
            case TokenKind.Float:
                return new ConstExpr(double.Parse(token.Value, CultureInfo.InvariantCulture), token.Position);
            case TokenKind.Operator when token.Value == "(":
                if (SkipOperator(")")) return new TupleExpr([], token.Position);
                var inner = Expression();
                if (Current.IsOperator(","))
                {
                    var items = new List<Expr> { inner };
                    while (SkipOperator(",") && !Current.IsOperator(")")) items.Add(Expression());
                    inner = new TupleExpr(items, token.Position);
                }
                Expect(TokenKind.Operator, ")");
                return inner;
            case TokenKind.Operator when token.Value == "[":
                return new ListExpr(Sequence("]"), token.Position);
            case TokenKind.Operator when token.Value == "{":
                var pairs = new List<(Expr, Expr)>();
                while (!SkipOperator("}"))
                {
                    if (pairs.Count > 0) Expect(TokenKind.Operator, ",");
                    if (SkipOperator("}")) break;
                    var key = Expression();
                    Expect(TokenKind.Operator, ":");
                    pairs.Add((key, Expression()));
                }
                return new DictExpr(pairs, token.Position);
            default:
                throw Error($"unexpected {Describe(token)}", token);
        }
    }

    private List<Expr> Sequence(string close)
    {
        var items = new List<Expr>();
        while (!SkipOperator(close))
        {
            if (items.Count > 0) Expect(TokenKind.Operator, ",");
            if (SkipOperator(close)) break;
            items.Add(Expression());
        }
        return items;
    }

    private Expr Postfix(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (SkipOperator("."))
            {
                var name = Next();
                if (name.Kind is not (TokenKind.Name or TokenKind.Integer)) throw Error("expected an attribute name after '.'", name);
                node = name.Kind == TokenKind.Integer
                    ? new ItemExpr(node, new ConstExpr(long.Parse(name.Value, CultureInfo.InvariantCulture), name.Position), token.Position)
                    : new AttributeExpr(node, name.Value, token.Position);
            }
            else if (SkipOperator("[")) node = Subscript(node, token.Position);
            else if (SkipOperator("(")) node = new CallExpr(node, CallArguments(), token.Position);
            else return node;
        }
    }

    private Expr Subscript(Expr target, SourcePosition at)
    {
        Expr? start = Current.IsOperator(":") ? null : Expression();
        if (!Current.IsOperator(":"))
        {
            Expect(TokenKind.Operator, "]");
            return new ItemExpr(target, start!, at);
        }
        _index++;
        Expr? stop = Current.IsOperator(":") || Current.IsOperator("]") ? null : Expression();
        Expr? step = null;
        if (SkipOperator(":") && !Current.IsOperator("]")) step = Expression();
        Expect(TokenKind.Operator, "]");
        return new SliceExpr(target, start, stop, step, at);
    }

    /// <summary>Arguments after an opening parenthesis, through the closing one.</summary>
    private Arguments CallArguments()
    {
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        while (!SkipOperator(")"))
        {
            if (positional.Count + named.Count > 0) Expect(TokenKind.Operator, ",");
            if (SkipOperator(")")) break;
            if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                var name = Next().Value;
                _index++;
                named.Add((name, Expression()));
            }
            else
            {
                if (named.Count > 0) throw Error("positional argument after a keyword argument");
                positional.Add(Expression());
            }
        }
        return new Arguments(positional, named);
    }

    private Expr FiltersAndTests(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (SkipOperator("|"))
            {
                var name = Expect(TokenKind.Name).Value;
                var args = SkipOperator("(") ? CallArguments() : Arguments.None;
                node = new FilterExpr(node, name, args, token.Position);
            }
            else if (SkipName("is"))
            {
                var negated = SkipName("not");
                var name = Expect(TokenKind.Name).Value;
                var args = Arguments.None;
                if (SkipOperator("(")) args = CallArguments();
                else if (StartsTestArgument()) args = new Arguments([Unary(withFilter: false)], []);
                node = new TestExpr(node, name, args, negated, token.Position);
            }
            else if (SkipOperator("(")) node = new CallExpr(node, CallArguments(), token.Position);
            else return node;
        }
    }

    /// <summary>Jinja2 lets a test take one argument without parentheses (<c>x is divisibleby 3</c>).</summary>
    private bool StartsTestArgument()
    {
        var t = Current;
        return t.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
            || (t.Kind == TokenKind.Name && t.Value is not ("else" or "or" or "and"))
            || t.IsOperator("(") || t.IsOperator("[") || t.IsOperator("{");
    }
}
