namespace LoraService.Jinja.Syntax;

internal abstract record Stmt(SourcePosition Position);

internal sealed record TextStmt(string Text, SourcePosition Position) : Stmt(Position);
internal sealed record PrintStmt(Expr Value, SourcePosition Position) : Stmt(Position);
internal sealed record IfStmt(IReadOnlyList<(Expr Test, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt> Else, SourcePosition Position) : Stmt(Position);
internal sealed record ForStmt(
    IReadOnlyList<string> Targets, Expr Iterable, Expr? Filter, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else, SourcePosition Position)
    : Stmt(Position);

/// <summary><c>set name = v</c>, <c>set a, b = v</c>, or <c>set ns.attr = v</c> (then <see cref="Namespace"/> is set).</summary>
internal sealed record SetStmt(IReadOnlyList<string> Targets, string? Namespace, Expr Value, SourcePosition Position) : Stmt(Position);
internal sealed record SetBlockStmt(string Target, IReadOnlyList<Stmt> Body, SourcePosition Position) : Stmt(Position);
internal sealed record MacroStmt(string Name, IReadOnlyList<(string Name, Expr? Default)> Parameters, IReadOnlyList<Stmt> Body, SourcePosition Position)
    : Stmt(Position);
internal sealed record BreakStmt(SourcePosition Position) : Stmt(Position);
internal sealed record ContinueStmt(SourcePosition Position) : Stmt(Position);

/// <summary>transformers' <c>{% generation %}</c>: its output is the assistant text the model is trained on.</summary>
internal sealed record GenerationStmt(IReadOnlyList<Stmt> Body, SourcePosition Position) : Stmt(Position);
