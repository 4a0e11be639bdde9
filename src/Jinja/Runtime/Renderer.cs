using System.Text;
using LoraService.Jinja.Syntax;

namespace LoraService.Jinja.Runtime;

/// <summary>Executes statements, writing output and recording the spans <c>{% generation %}</c> blocks produce.</summary>
internal sealed partial class Renderer
{
    private sealed class BreakSignal : Exception;
    private sealed class ContinueSignal : Exception;

    private readonly Stack<StringBuilder> _outputs = new();
    private readonly List<GenerationSpan> _spans = [];
    private Scope _scope;

    private Renderer(Scope scope)
    {
        _scope = scope;
        _outputs.Push(new StringBuilder());
    }

    public static RenderResult Render(IReadOnlyList<Stmt> body, IReadOnlyDictionary<string, object?> variables, TemplateOptions options)
    {
        var globals = new Scope(null);
        Globals.AddTo(globals, options);
        var context = new Scope(globals);
        foreach (var (name, value) in variables) context.Set(name, Values.Import(value));
        var renderer = new Renderer(new Scope(context));
        renderer.Execute(body);
        return new RenderResult(renderer._outputs.Peek().ToString(), renderer._spans);
    }

    private void Write(string text) => _outputs.Peek().Append(text);

    private void Execute(IReadOnlyList<Stmt> body)
    {
        foreach (var statement in body) Execute(statement);
    }

    private void Execute(Stmt statement)
    {
        try
        {
            ExecuteCore(statement);
        }
        catch (RuntimeError e)
        {
            throw new TemplateRuntimeException(e.Message, statement.Position);
        }
        catch (RaisedError e)
        {
            throw new TemplateRaisedException(e.Message, statement.Position);
        }
    }

    private void ExecuteCore(Stmt statement)
    {
        switch (statement)
        {
            case TextStmt text: Write(text.Text); break;
            case PrintStmt print: Write(PyRepr.Str(Eval(print.Value))); break;
            case IfStmt branches: If(branches); break;
            case ForStmt loop: For(loop); break;
            case SetStmt set: Set(set); break;
            case SetBlockStmt block: _scope.Set(block.Target, Capture(block.Body)); break;
            case MacroStmt macro: _scope.Set(macro.Name, Macro(macro, _scope)); break;
            case BreakStmt: throw new BreakSignal();
            case ContinueStmt: throw new ContinueSignal();
            case GenerationStmt generation: Generation(generation); break;
            default: throw new RuntimeError($"cannot execute {statement.GetType().Name}");
        }
    }

    private void If(IfStmt statement)
    {
        foreach (var (test, body) in statement.Branches)
            if (Values.Truthy(Eval(test)))
            {
                Execute(body);
                return;
            }
        Execute(statement.Else);
    }

    private void For(ForStmt statement)
    {
        var items = Values.Iterate(Eval(statement.Iterable));
        var outer = _scope;
        if (statement.Filter is { } filter)
            items = items.Where(item =>
            {
                _scope = new Scope(outer);
                Bind(statement.Targets, item);
                return Values.Truthy(Eval(filter));
            }).ToList();
        _scope = outer;
        var loop = new LoopContext(items);
        try
        {
            for (var i = 0; i < items.Count; i++)
            {
                _scope = new Scope(outer);
                loop.Index0 = i;
                _scope.Set("loop", loop);
                Bind(statement.Targets, items[i]);
                try
                {
                    Execute(statement.Body);
                }
                catch (ContinueSignal)
                {
                }
            }
        }
        catch (BreakSignal)
        {
        }
        finally
        {
            _scope = outer;
        }
        if (items.Count == 0) Execute(statement.Else);
    }

    private void Bind(IReadOnlyList<string> targets, object? value)
    {
        if (targets.Count == 1)
        {
            _scope.Set(targets[0], value);
            return;
        }
        var parts = value is string ? throw new RuntimeError("cannot unpack a string") : Values.Iterate(value);
        if (parts.Count != targets.Count)
            throw new RuntimeError($"cannot unpack {parts.Count} values into {targets.Count} variables");
        for (var i = 0; i < targets.Count; i++) _scope.Set(targets[i], parts[i]);
    }

    private void Set(SetStmt statement)
    {
        var value = Eval(statement.Value);
        if (statement.Namespace is not { } name)
        {
            Bind(statement.Targets, value);
            return;
        }
        if (_scope.Lookup(name) is not Namespace ns) throw new RuntimeError($"cannot assign attribute on non-namespace object '{name}'");
        ns.Attributes[statement.Targets[0]] = value;
    }

    private string Capture(IReadOnlyList<Stmt> body)
    {
        _outputs.Push(new StringBuilder());
        try
        {
            Execute(body);
            return _outputs.Peek().ToString();
        }
        finally
        {
            _outputs.Pop();
        }
    }

    private Callable Macro(MacroStmt macro, Scope defined) => args =>
    {
        var caller = _scope;
        _scope = new Scope(defined);
        try
        {
            if (args.Positional.Count > macro.Parameters.Count)
                throw new RuntimeError($"macro '{macro.Name}' takes not more than {macro.Parameters.Count} argument(s)");
            for (var i = 0; i < macro.Parameters.Count; i++)
            {
                var (name, fallback) = macro.Parameters[i];
                var value = i < args.Positional.Count ? args.Positional[i]
                    : args.Named.TryGetValue(name, out var named) ? named
                    : fallback is null ? new Undefined($"parameter '{name}' was not provided") : Eval(fallback);
                _scope.Set(name, value);
            }
            return Capture(macro.Body);
        }
        finally
        {
            _scope = caller;
        }
    };

    private void Generation(GenerationStmt statement)
    {
        var root = _outputs.Count == 1;
        var start = _outputs.Peek().Length;
        Execute(statement.Body);
        if (root && _outputs.Peek().Length > start) _spans.Add(new GenerationSpan(start, _outputs.Peek().Length - start));
    }
}
