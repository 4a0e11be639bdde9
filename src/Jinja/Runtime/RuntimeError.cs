namespace LoraService.Jinja.Runtime;

/// <summary>A rendering failure before its position is known; the renderer turns it into a <see cref="TemplateRuntimeException"/>.</summary>
internal sealed class RuntimeError(string message) : Exception(message);

/// <summary>raise_exception() was called.</summary>
internal sealed class RaisedError(string message) : Exception(message);
