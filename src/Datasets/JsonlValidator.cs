using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace LoraService.Datasets;

/// <summary>
/// Validates a JSONL dataset as its bytes arrive, one line at a time, holding at most one line
/// in memory. Feed chunks with <see cref="Append"/> (e.g. while copying an upload to storage) and
/// call <see cref="Complete"/> once; or use <see cref="ValidateAsync"/> for a whole stream.
/// </summary>
public sealed class JsonlValidator : IDisposable
{
    private static readonly string FormatList = string.Join(", ",
        Enum.GetValues<DatasetFormat>().Select(f => f.ToWireName()));

    private readonly DatasetValidationOptions _options;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly ArrayBufferWriter<byte> _line = new();
    private readonly List<DatasetError> _errors = [];
    private readonly List<string> _preview = [];
    private readonly List<string> _rowErrors = [];
    private DatasetFormat? _format;
    private long _lineNumber = 1;
    private long _lineBytes;
    private long _rows;
    private long _bytes;
    private long _totalErrors;
    private bool _completed;

    public JsonlValidator(DatasetValidationOptions? options = null)
    {
        _options = options ?? new DatasetValidationOptions();
        _format = _options.ExpectedFormat;
    }

    public static async Task<DatasetValidationResult> ValidateAsync(
        Stream source, DatasetValidationOptions? options = null, Stream? copyTo = null,
        CancellationToken cancellationToken = default)
    {
        using var validator = new JsonlValidator(options);
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                validator.Append(buffer.AsSpan(0, read));
                if (copyTo is not null)
                    await copyTo.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return validator.Complete();
    }

    public void Append(ReadOnlySpan<byte> chunk)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        _hash.AppendData(chunk);
        _bytes += chunk.Length;
        while (!chunk.IsEmpty)
        {
            var newline = chunk.IndexOf((byte)'\n');
            var part = newline < 0 ? chunk : chunk[..newline];
            _lineBytes += part.Length;
            // Keep one byte beyond the limit so a trailing '\r' can still be told apart.
            if (_lineBytes <= _options.MaxLineBytes + 1L)
                _line.Write(part);
            if (newline < 0) return;
            EndLine();
            chunk = chunk[(newline + 1)..];
        }
    }

    public DatasetValidationResult Complete()
    {
        if (!_completed)
        {
            if (_lineBytes > 0) EndLine();
            if (_bytes == 0) AddError(0, "the file is empty");
            _completed = true;
        }
        return new DatasetValidationResult(
            _format, _rows, _bytes, Convert.ToHexStringLower(_hash.GetCurrentHash()),
            _preview, _errors, _totalErrors);
    }

    private void EndLine()
    {
        var line = _line.WrittenSpan;
        var length = _lineBytes;
        if (line.Length > 0 && line[^1] == (byte)'\r' && length == line.Length)
        {
            line = line[..^1];
            length--;
        }
        if (_lineNumber == 1 && line.StartsWith("\uFEFF"u8))
        {
            line = line[3..];
            length -= 3;
        }
        CheckLine(line, length);
        _line.ResetWrittenCount();
        _lineBytes = 0;
        _lineNumber++;
    }

    private void CheckLine(ReadOnlySpan<byte> line, long length)
    {
        if (length > _options.MaxLineBytes)
        {
            _rows++;
            AddError(_lineNumber, $"line is longer than {_options.MaxLineBytes} bytes");
            return;
        }
        if (line.Trim(" \t\r"u8).IsEmpty)
        {
            AddError(_lineNumber, "blank line");
            return;
        }
        _rows++;
        if (!Utf8.IsValid(line))
        {
            AddError(_lineNumber, $"invalid UTF-8 at byte {FirstInvalidByte(line) + 1}");
            return;
        }
        if (line.IndexOf((byte)0) is var nul and >= 0)
        {
            AddError(_lineNumber, $"a NUL byte (0x00) at byte {nul + 1}: not allowed in JSON text");
            return;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line.ToArray());
        }
        catch (JsonException e)
        {
            AddError(_lineNumber, e.Message.Contains("maximum configured depth", StringComparison.Ordinal)
                ? $"nested deeper than 64 levels (System.Text.Json's limit) at byte {e.BytePositionInLine + 1}"
                : $"invalid JSON at byte {e.BytePositionInLine + 1}: {Reason(e)}");
            return;
        }
        using (document)
            CheckRow(document.RootElement, line);
    }

    /// <summary>System.Text.Json's own words without its position suffix (the line and byte are reported separately).</summary>
    private static string Reason(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut < 0) cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd(' ', '.', '|');
    }

    private void CheckRow(JsonElement row, ReadOnlySpan<byte> line)
    {
        if (row.ValueKind != JsonValueKind.Object)
        {
            AddError(_lineNumber, "each line must be a JSON object");
            return;
        }
        _format ??= RowRules.Detect(row);
        if (_format is not { } format)
        {
            AddError(_lineNumber, $"cannot tell the format from the fields; expected one of: {FormatList}");
            return;
        }
        _rowErrors.Clear();
        RowRules.Check(row, format, _rowErrors);
        foreach (var message in _rowErrors)
            AddError(_lineNumber, message);
        if (_rowErrors.Count == 0 && _preview.Count < _options.PreviewRows)
            _preview.Add(Encoding.UTF8.GetString(line));
    }

    private void AddError(long line, string message)
    {
        _totalErrors++;
        if (_errors.Count < _options.MaxErrors)
            _errors.Add(new DatasetError(line, message));
    }

    private static int FirstInvalidByte(ReadOnlySpan<byte> bytes)
    {
        var offset = 0;
        while (offset < bytes.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes[offset..], out _, out var consumed) != OperationStatus.Done)
                return offset;
            offset += consumed;
        }
        return offset;
    }

    public void Dispose() => _hash.Dispose();
}
