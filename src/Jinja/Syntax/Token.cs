namespace LoraService.Jinja.Syntax;

internal enum TokenKind { Text, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, Eof }

internal sealed record Token(TokenKind Kind, string Value, SourcePosition Position)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;
    public bool IsName(string value) => Is(TokenKind.Name, value);
    public bool IsOperator(string value) => Is(TokenKind.Operator, value);
}
