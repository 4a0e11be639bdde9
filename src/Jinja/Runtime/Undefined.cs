namespace LoraService.Jinja.Runtime;

/// <summary>
/// Jinja2's default Undefined: prints as "", is falsy, iterates as empty, compares equal only to another undefined;
/// attribute access, item access and arithmetic on it fail with the reason it is undefined.
/// </summary>
internal sealed class Undefined(string reason)
{
    public string Reason { get; } = reason;

    public static Undefined Name(string name) => new($"'{name}' is undefined");

    public RuntimeError Fail() => new(Reason);
}
