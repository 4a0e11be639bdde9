using System.Globalization;
using System.Text;
using LoraService.Jinja.Runtime;

namespace LoraService.Jinja.Syntax;

/// <summary>
/// Splits template source into text and tag tokens with Jinja2's whitespace rules: <c>-</c> strips, <c>+</c> keeps,
/// trim_blocks drops the newline after a block or comment tag, lstrip_blocks drops indentation before one.
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"];

    private readonly string _source;
    private readonly TemplateOptions _options;
    private readonly List<Token> _tokens = [];
    private readonly List<int> _lineStarts = [0];
    private int _pos;

    private Lexer(string source, TemplateOptions options)
    {
        _source = source;
        _options = options;
        for (var i = 0; i < source.Length; i++)
            if (source[i] == '\n') _lineStarts.Add(i + 1);
    }

    public static List<Token> Tokenize(string source, TemplateOptions options)
    {
        var lexer = new Lexer(Normalize(source, options), options);
        lexer.Run();
        return lexer._tokens;
    }

    /// <summary>Jinja2 turns every newline into \n and, without keep_trailing_newline, drops one final newline.</summary>
    private static string Normalize(string source, TemplateOptions options)
    {
        var text = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (!options.KeepTrailingNewline && text.EndsWith('\n')) text = text[..^1];
        return text;
    }

    private void Run()
    {
        while (_pos < _source.Length)
        {
            var start = NextTagStart(_pos);
            if (start < 0)
            {
                AddText(_source[_pos..], _pos);
                _pos = _source.Length;
                break;
            }
            var kind = _source[start + 1];
            var sign = start + 2 < _source.Length && _source[start + 2] is '-' or '+' ? _source[start + 2] : '\0';
            var text = _source[_pos..start];
            if (sign == '-') text = PyString.StripEnd(text);
            else if (sign != '+' && _options.LstripBlocks && kind != '{') text = LstripBeforeTag(text, _pos);
            AddText(text, _pos);
            _pos = start + 2 + (sign == '\0' ? 0 : 1);
            switch (kind)
            {
                case '#': Comment(start); break;
                case '%': Tag(start, TokenKind.BlockBegin, TokenKind.BlockEnd, '%'); break;
                default: Tag(start, TokenKind.VariableBegin, TokenKind.VariableEnd, '}'); break;
            }
        }
        _tokens.Add(new Token(TokenKind.Eof, "", PositionOf(_source.Length)));
    }

    private int NextTagStart(int from)
    {
        for (var i = _source.IndexOf('{', from); i >= 0 && i + 1 < _source.Length; i = _source.IndexOf('{', i + 1))
            if (_source[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    private string LstripBeforeTag(string text, int textStart)
    {
        var lineStart = text.LastIndexOf('\n') + 1;
        var atLineStart = lineStart > 0 || textStart == 0 || _source[textStart - 1] == '\n';
        if (!atLineStart) return text;
        for (var i = lineStart; i < text.Length; i++)
            if (text[i] is not (' ' or '\t')) return text;
        return text[..lineStart];
    }

    private void AddText(string text, int at)
    {
        if (text.Length > 0) _tokens.Add(new Token(TokenKind.Text, text, PositionOf(at)));
    }

    private void Comment(int start)
    {
        var end = _source.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0) throw new TemplateSyntaxException("unterminated comment", PositionOf(start));
        var strip = end > _pos && _source[end - 1] == '-';
        _pos = end + 2;
        AfterBlockEnd(strip, trimNewline: true);
    }

    private void Tag(int start, TokenKind begin, TokenKind end, char closer)
    {
        _tokens.Add(new Token(begin, "", PositionOf(start)));
        var depth = 0;
        while (true)
        {
            SkipWhitespace();
            if (_pos >= _source.Length) throw new TemplateSyntaxException("unexpected end of template inside a tag", PositionOf(start));
            if (depth == 0 && TagEndSign(closer) is { } sign)
            {
                _tokens.Add(new Token(end, "", PositionOf(_pos)));
                _pos += sign == '\0' ? 2 : 3;
                AfterBlockEnd(sign == '-', trimNewline: closer == '%' && sign != '+');
                return;
            }
            var token = NextToken();
            if (token.Kind == TokenKind.Operator)
            {
                if (token.Value is "(" or "[" or "{") depth++;
                else if (token.Value is ")" or "]" or "}") depth--;
            }
            _tokens.Add(token);
        }
    }

    /// <summary>'\0' for a plain tag end, '-' or '+' for one with that sign, null when the tag does not end here.</summary>
    private char? TagEndSign(char closer)
    {
        if (Matches(_pos, closer, '}')) return '\0';
        if (_source[_pos] is '-' or '+' && Matches(_pos + 1, closer, '}')) return _source[_pos];
        return null;
    }

    private bool Matches(int at, char a, char b) => at + 1 < _source.Length && _source[at] == a && _source[at + 1] == b;

    private void AfterBlockEnd(bool strip, bool trimNewline)
    {
        if (strip)
            while (_pos < _source.Length && PyString.IsWhitespace(_source[_pos])) _pos++;
        else if (trimNewline && _options.TrimBlocks && _pos < _source.Length && _source[_pos] == '\n')
            _pos++;
    }

    private void SkipWhitespace()
    {
        while (_pos < _source.Length && char.IsWhiteSpace(_source[_pos])) _pos++;
    }

    private Token NextToken()
    {
        var at = PositionOf(_pos);
        var c = _source[_pos];
        if (char.IsLetter(c) || c == '_')
        {
            var s = _pos;
            while (_pos < _source.Length && (char.IsLetterOrDigit(_source[_pos]) || _source[_pos] == '_')) _pos++;
            return new Token(TokenKind.Name, _source[s.._pos], at);
        }
        if (char.IsAsciiDigit(c)) return Number(at);
        if (c is '\'' or '"') return new Token(TokenKind.String, StringLiteral(at), at);
        foreach (var op in Operators)
            if (string.CompareOrdinal(_source, _pos, op, 0, op.Length) == 0)
            {
                _pos += op.Length;
                return new Token(TokenKind.Operator, op, at);
            }
        throw new TemplateSyntaxException($"unexpected character '{c}'", at);
    }

    private Token Number(SourcePosition at)
    {
        var s = _pos;
        while (_pos < _source.Length && (char.IsAsciiDigit(_source[_pos]) || _source[_pos] == '_')) _pos++;
        var isFloat = false;
        if (_pos + 1 < _source.Length && _source[_pos] == '.' && char.IsAsciiDigit(_source[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            while (_pos < _source.Length && (char.IsAsciiDigit(_source[_pos]) || _source[_pos] == '_')) _pos++;
        }
        if (_pos < _source.Length && _source[_pos] is 'e' or 'E')
        {
            var e = _pos + 1;
            if (e < _source.Length && _source[e] is '+' or '-') e++;
            if (e < _source.Length && char.IsAsciiDigit(_source[e]))
            {
                isFloat = true;
                _pos = e;
                while (_pos < _source.Length && char.IsAsciiDigit(_source[_pos])) _pos++;
            }
        }
        return new Token(isFloat ? TokenKind.Float : TokenKind.Integer, _source[s.._pos].Replace("_", ""), at);
    }

    /// <summary>A quoted string with Python's escapes; an unknown escape keeps its backslash, as Python does.</summary>
    private string StringLiteral(SourcePosition at)
    {
        var quote = _source[_pos++];
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _source.Length) throw new TemplateSyntaxException("unterminated string", at);
            var c = _source[_pos++];
            if (c == quote) return sb.ToString();
            if (c != '\\' || _pos >= _source.Length)
            {
                sb.Append(c);
                continue;
            }
            var e = _source[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case 'a': sb.Append('\a'); break;
                case '0': sb.Append('\0'); break;
                case '\\': case '\'': case '"': sb.Append(e); break;
                case '\n': break;
                case 'x': sb.Append(HexEscape(2, at)); break;
                case 'u': sb.Append(HexEscape(4, at)); break;
                case 'U': sb.Append(HexEscape(8, at)); break;
                default: sb.Append('\\').Append(e); break;
            }
        }
    }

    private string HexEscape(int digits, SourcePosition at)
    {
        if (_pos + digits > _source.Length ||
            !int.TryParse(_source.AsSpan(_pos, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code))
            throw new TemplateSyntaxException("invalid escape in string", at);
        _pos += digits;
        return char.ConvertFromUtf32(code);
    }

    private SourcePosition PositionOf(int offset)
    {
        var index = _lineStarts.BinarySearch(offset);
        if (index < 0) index = ~index - 1;
        return new SourcePosition(index + 1, offset - _lineStarts[index] + 1);
    }
}
