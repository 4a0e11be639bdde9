using LoraService.Jinja.Syntax;

namespace LoraService.Jinja.Runtime;

/// <summary>Expression evaluation; errors carry the position of the innermost expression that failed.</summary>
internal sealed partial class Renderer
{
    private object? Eval(Expr expr)
    {
        try
        {
            return EvalCore(expr);
        }
        catch (RuntimeError e)
        {
            throw new TemplateRuntimeException(e.Message, expr.Position);
        }
        catch (RaisedError e)
        {
            throw new TemplateRaisedException(e.Message, expr.Position);
        }
    }

    private object? EvalCore(Expr expr) => expr switch
    {
        ConstExpr c => c.Value,
        NameExpr n => _scope.Lookup(n.Name),
        ListExpr l => l.Items.Select(Eval).ToList(),
        TupleExpr t => t.Items.Select(Eval).ToArray(),
        DictExpr d => Dict(d),
        AttributeExpr a => Access.Attribute(Eval(a.Target), a.Name),
        ItemExpr i => Access.Item(Eval(i.Target), Eval(i.Index)),
        SliceExpr s => Access.Slice(Eval(s.Target), Optional(s.Start), Optional(s.Stop), Optional(s.Step)),
        CallExpr call => Call(Eval(call.Target), Arguments(call.Args)),
        FilterExpr f => Filters.Apply(f.Name, Eval(f.Target), Arguments(f.Args)),
        TestExpr t => Tests.Apply(t.Name, Eval(t.Target), Arguments(t.Args)) != t.Negated,
        UnaryExpr u => u.Operator switch
        {
            "not" => !Values.Truthy(Eval(u.Operand)),
            "-" => Operators.Negate(Eval(u.Operand)),
            _ => Eval(u.Operand) is var v && Values.IsNumber(v) ? v : throw new RuntimeError($"bad operand type for unary +: '{Values.TypeName(v)}'"),
        },
        BinaryExpr { Operator: "and" } b => Eval(b.Left) is var left && Values.Truthy(left) ? Eval(b.Right) : left,
        BinaryExpr { Operator: "or" } b => Eval(b.Left) is var left && Values.Truthy(left) ? left : Eval(b.Right),
        BinaryExpr b => Operators.Binary(b.Operator, Eval(b.Left), Eval(b.Right)),
        CompareExpr c => Compare(c),
        ConditionalExpr c => Values.Truthy(Eval(c.Test)) ? Eval(c.Then)
            : c.Else is { } otherwise ? Eval(otherwise) : new Undefined("the inline if expression evaluated to false and no else section was defined"),
        _ => throw new RuntimeError($"cannot evaluate {expr.GetType().Name}"),
    };

    private object? Optional(Expr? expr) => expr is null ? null : Eval(expr);

    private Dictionary<string, object?> Dict(DictExpr d)
    {
        var result = new Dictionary<string, object?>();
        foreach (var (key, value) in d.Pairs)
            result[Eval(key) as string ?? throw new RuntimeError("only string keys are supported in dict literals")] = Eval(value);
        return result;
    }

    private CallArgs Arguments(Arguments args) =>
        new(args.Positional.Select(Eval).ToList(), args.Named.ToDictionary(n => n.Name, n => Eval(n.Value)));

    private static object? Call(object? target, CallArgs args) => target switch
    {
        Callable callable => callable(args),
        Undefined u => throw u.Fail(),
        _ => throw new RuntimeError($"'{Values.TypeName(target)}' object is not callable"),
    };

    private bool Compare(CompareExpr c)
    {
        var left = Eval(c.First);
        foreach (var (op, operand) in c.Rest)
        {
            var right = Eval(operand);
            var holds = op switch
            {
                "==" => Values.Equals(left, right),
                "!=" => !Values.Equals(left, right),
                "<" => Values.Compare(left, right, op) < 0,
                "<=" => Values.Compare(left, right, op) <= 0,
                ">" => Values.Compare(left, right, op) > 0,
                ">=" => Values.Compare(left, right, op) >= 0,
                "in" => Values.Contains(right, left),
                "not in" => !Values.Contains(right, left),
                _ => throw new RuntimeError($"unknown comparison {op}"),
            };
            if (!holds) return false;
            left = right;
        }
        return true;
    }
}
