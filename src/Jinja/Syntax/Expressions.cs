namespace LoraService.Jinja.Syntax;

internal abstract record Expr(SourcePosition Position);

internal sealed record ConstExpr(object? Value, SourcePosition Position) : Expr(Position);
internal sealed record NameExpr(string Name, SourcePosition Position) : Expr(Position);
internal sealed record ListExpr(IReadOnlyList<Expr> Items, SourcePosition Position) : Expr(Position);
internal sealed record TupleExpr(IReadOnlyList<Expr> Items, SourcePosition Position) : Expr(Position);
internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Pairs, SourcePosition Position) : Expr(Position);
internal sealed record AttributeExpr(Expr Target, string Name, SourcePosition Position) : Expr(Position);
internal sealed record ItemExpr(Expr Target, Expr Index, SourcePosition Position) : Expr(Position);
internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, SourcePosition Position) : Expr(Position);
internal sealed record Arguments(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Named)
{
    public static Arguments None { get; } = new([], []);
}
internal sealed record CallExpr(Expr Target, Arguments Args, SourcePosition Position) : Expr(Position);
internal sealed record FilterExpr(Expr Target, string Name, Arguments Args, SourcePosition Position) : Expr(Position);
internal sealed record TestExpr(Expr Target, string Name, Arguments Args, bool Negated, SourcePosition Position) : Expr(Position);
internal sealed record UnaryExpr(string Operator, Expr Operand, SourcePosition Position) : Expr(Position);
internal sealed record BinaryExpr(string Operator, Expr Left, Expr Right, SourcePosition Position) : Expr(Position);
internal sealed record CompareExpr(Expr First, IReadOnlyList<(string Operator, Expr Operand)> Rest, SourcePosition Position) : Expr(Position);
internal sealed record ConditionalExpr(Expr Test, Expr Then, Expr? Else, SourcePosition Position) : Expr(Position);
