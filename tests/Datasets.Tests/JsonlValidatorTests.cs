using System.Security.Cryptography;
using System.Text;

namespace LoraService.Datasets.Tests;

public sealed class JsonlValidatorTests
{
    private static DatasetValidationResult Validate(string content, DatasetValidationOptions? options = null) =>
        Validate(Encoding.UTF8.GetBytes(content), options);

    private static DatasetValidationResult Validate(byte[] content, DatasetValidationOptions? options = null) =>
        Task.Run(() => JsonlValidator.ValidateAsync(new MemoryStream(content), options)).Result;

    private static string[] Errors(DatasetValidationResult result) => result.Errors.Select(e => e.ToString()).ToArray();

    private static void AssertSingleErrorStartingWith(string content, string expected)
    {
        var result = Validate(content);
        Assert.False(result.IsValid);
        Assert.StartsWith(expected, Assert.Single(Errors(result)));
    }

    private static void AssertSingleError(string content, string expected, DatasetValidationOptions? options = null)
    {
        var result = Validate(content, options);
        Assert.False(result.IsValid);
        Assert.Equal([expected], Errors(result));
    }

    [Theory]
    [InlineData("{\"text\":\"hello\"}", DatasetFormat.Text)]
    [InlineData("{\"prompt\":\"a\",\"completion\":\"b\"}", DatasetFormat.PromptCompletion)]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}", DatasetFormat.Messages)]
    [InlineData("{\"context\":\"c\",\"choices\":[\"x\",\"y\"],\"label\":1}", DatasetFormat.MultipleChoice)]
    [InlineData("{\"prompt\":\"2+2\",\"answer\":4}", DatasetFormat.ExactMatch)]
    [InlineData("{\"prompt\":\"2+2\",\"answer\":\"4\"}", DatasetFormat.ExactMatch)]
    public void Detects_each_format_from_the_first_row(string row, DatasetFormat format)
    {
        var result = Validate(row + "\n" + row + "\n");
        Assert.True(result.IsValid, string.Join("; ", Errors(result)));
        Assert.Equal(format, result.Format);
        Assert.Equal(2, result.RowCount);
    }

    [Fact]
    public void Success_reports_rows_bytes_hash_and_preview()
    {
        var content = "{\"text\":\"a\"}\n{\"text\":\"b\"}\r\n{\"text\":\"c\"}\n{\"text\":\"d\"}";
        var bytes = Encoding.UTF8.GetBytes(content);

        var result = Validate(bytes, new DatasetValidationOptions(PreviewRows: 2));

        Assert.True(result.IsValid);
        Assert.Equal(4, result.RowCount);
        Assert.Equal(bytes.Length, result.ByteCount);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), result.Sha256);
        Assert.Equal(["{\"text\":\"a\"}", "{\"text\":\"b\"}"], result.Preview);
    }

    [Fact]
    public async Task Copies_the_stream_while_validating()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"text\":\"a\"}\n{\"text\":\"b\"}\n");
        var copy = new MemoryStream();

        var result = await JsonlValidator.ValidateAsync(new MemoryStream(bytes), copyTo: copy);

        Assert.True(result.IsValid);
        Assert.Equal(bytes, copy.ToArray());
    }

    [Fact]
    public void Chunk_boundaries_anywhere_give_the_same_result()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"text\":\"héllo\"}\r\n{\"text\":\"wörld\"}\n{\"text\":5}\n");
        var whole = Validate(bytes);
        for (var size = 1; size <= 7; size++)
        {
            using var validator = new JsonlValidator();
            for (var i = 0; i < bytes.Length; i += size)
                validator.Append(bytes.AsSpan(i, Math.Min(size, bytes.Length - i)));
            var chunked = validator.Complete();
            Assert.Equal(Errors(whole), Errors(chunked));
            Assert.Equal(whole.Sha256, chunked.Sha256);
            Assert.Equal(whole.RowCount, chunked.RowCount);
        }
        Assert.Equal(["line 3: text must be a string"], Errors(whole));
    }

    [Fact]
    public void Empty_file_is_an_error() => AssertSingleError("", "the file is empty");

    [Fact]
    public void Blank_lines_are_errors_with_their_line_numbers()
    {
        var result = Validate("{\"text\":\"a\"}\n\n{\"text\":\"b\"}\n   \n");
        Assert.Equal(["line 2: blank line", "line 4: blank line"], Errors(result));
        Assert.Equal(2, result.RowCount);
    }

    [Fact]
    public void A_final_newline_is_not_a_blank_line() => Assert.True(Validate("{\"text\":\"a\"}\n").IsValid);

    [Fact]
    public void Leading_byte_order_mark_is_accepted()
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes("{\"text\":\"a\"}\n")).ToArray();
        Assert.True(Validate(bytes).IsValid);
    }

    [Fact]
    public void Invalid_utf8_names_line_and_byte()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"text\":\"ok\"}\n{\"text\":\"").Concat(new byte[] { 0xC3, 0x28 })
            .Concat(Encoding.UTF8.GetBytes("\"}\n")).ToArray();
        var result = Validate(bytes);
        Assert.Equal(["line 2: invalid UTF-8 at byte 10"], Errors(result));
    }

    [Fact]
    public void Invalid_json_names_line_and_byte() =>
        AssertSingleErrorStartingWith("{\"text\":\"a\"}\n{\"text\": \"b\",}\n", "line 2: invalid JSON at byte 14: ");

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    public void Non_object_lines_are_errors(string line) =>
        AssertSingleError("{\"text\":\"a\"}\n" + line + "\n", "line 2: each line must be a JSON object");

    [Fact]
    public void Unrecognised_first_row_is_an_error_and_detection_continues()
    {
        var result = Validate("{\"foo\":1}\n{\"text\":\"a\"}\n{\"prompt\":\"p\",\"completion\":\"c\"}\n");
        Assert.Equal(DatasetFormat.Text, result.Format);
        Assert.Equal(
            ["line 1: cannot tell the format from the fields; expected one of: text, prompt_completion, messages, multiple_choice, exact_match",
             "line 3: text is required"],
            Errors(result));
    }

    [Fact]
    public void A_line_nested_too_deep_and_a_line_with_a_nul_byte_each_say_what_is_wrong()
    {
        var deep = "{\"text\": " + new string('[', 80) + new string(']', 80) + "}";
        AssertSingleErrorStartingWith("{\"text\":\"a\"}\n" + deep + "\n", "line 2: nested deeper than 64 levels");
        AssertSingleErrorStartingWith("{\"text\":\"a\u0000b\"}\n", "line 1: a NUL byte (0x00) at byte 11: ");
    }

    [Fact]
    public void Expected_format_is_enforced_from_the_first_line() =>
        AssertSingleError("{\"text\":\"a\"}\n", "line 1: prompt is required",
            new DatasetValidationOptions(DatasetFormat.ExactMatch) with { MaxErrors = 1 });

    [Theory]
    [InlineData("{\"text\":\"\"}", "text must not be empty")]
    [InlineData("{\"text\":null}", "text must be a string")]
    public void Text_rules(string row, string message) =>
        AssertSingleError("{\"text\":\"a\"}\n" + row + "\n", "line 2: " + message);

    [Theory]
    [InlineData("{\"prompt\":\"a\"}", "completion is required")]
    [InlineData("{\"prompt\":1,\"completion\":\"b\"}", "prompt must be a string")]
    [InlineData("{\"prompt\":\"a\",\"completion\":\"\"}", "completion must not be empty")]
    public void Prompt_completion_rules(string row, string message) =>
        AssertSingleError(row + "\n", "line 1: " + message, new DatasetValidationOptions(DatasetFormat.PromptCompletion));

    private const string GoodChat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}";

    [Theory]
    [InlineData("{\"messages\":{}}", "messages must be an array")]
    [InlineData("{\"messages\":[]}", "messages must not be empty")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", "messages must contain at least one assistant message")]
    [InlineData("{\"messages\":[{\"role\":\"assistant\",\"content\":\"a\"},5]}", "messages[1] must be an object")]
    [InlineData("{\"messages\":[{\"role\":\"assistant\"}]}", "messages[0].content is required")]
    [InlineData("{\"messages\":[{\"role\":\"assistant\",\"content\":1}]}", "messages[0].content must be a string")]
    [InlineData("{\"messages\":[{\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}", "messages[0].role is required")]
    [InlineData("{\"messages\":[{\"role\":\"assistant\",\"content\":\"a\",\"weight\":2}]}", "messages[0].weight must be 0 or 1")]
    [InlineData("{\"messages\":[{\"role\":\"assistant\",\"content\":\"a\",\"weight\":0.5}]}", "messages[0].weight must be 0 or 1")]
    public void Messages_rules(string row, string message) =>
        AssertSingleError(GoodChat + "\n" + row + "\n", "line 2: " + message);

    [Fact]
    public void Unknown_role_names_the_message_path()
    {
        var row = "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"u\"},{\"role\":\"bot\",\"content\":\"b\"},{\"role\":\"assistant\",\"content\":\"a\",\"weight\":0}]}";
        var content = string.Join("\n", Enumerable.Repeat(GoodChat, 6)) + "\n" + row + "\n";
        AssertSingleError(content, "line 7: messages[2].role must be one of system, user, assistant");
    }

    [Theory]
    [InlineData("{\"context\":\"c\",\"choices\":[\"a\"],\"label\":0}", "choices must have at least 2 items")]
    [InlineData("{\"context\":\"c\",\"choices\":\"ab\",\"label\":0}", "choices must be an array")]
    [InlineData("{\"context\":\"c\",\"choices\":[\"a\",2],\"label\":0}", "choices[1] must be a string")]
    [InlineData("{\"context\":\"c\",\"choices\":[\"a\",\"b\"],\"label\":2}", "label must be between 0 and 1")]
    [InlineData("{\"context\":\"c\",\"choices\":[\"a\",\"b\"],\"label\":-1}", "label must be between 0 and 1")]
    [InlineData("{\"context\":\"c\",\"choices\":[\"a\",\"b\"],\"label\":\"0\"}", "label must be an integer")]
    [InlineData("{\"context\":\"c\",\"choices\":[\"a\",\"b\"],\"label\":1.5}", "label must be an integer")]
    [InlineData("{\"context\":\"c\",\"choices\":[\"a\",\"b\"]}", "label is required")]
    [InlineData("{\"choices\":[\"a\",\"b\"],\"label\":0}", "context is required")]
    public void Multiple_choice_rules(string row, string message) =>
        AssertSingleError(row + "\n", "line 1: " + message, new DatasetValidationOptions(DatasetFormat.MultipleChoice));

    [Theory]
    [InlineData("{\"prompt\":\"p\",\"answer\":[1]}", "answer must be a string or a number")]
    [InlineData("{\"prompt\":\"p\",\"answer\":null}", "answer must be a string or a number")]
    [InlineData("{\"prompt\":\"p\"}", "answer is required")]
    public void Exact_match_rules(string row, string message) =>
        AssertSingleError(row + "\n", "line 1: " + message, new DatasetValidationOptions(DatasetFormat.ExactMatch));

    [Fact]
    public void Line_over_the_byte_limit_is_an_error_and_the_next_line_is_still_checked()
    {
        var longRow = "{\"text\":\"" + new string('x', 100) + "\"}";
        var result = Validate("{\"text\":\"a\"}\n" + longRow + "\n{\"text\":1}\n", new DatasetValidationOptions(MaxLineBytes: 64));
        Assert.Equal(["line 2: line is longer than 64 bytes", "line 3: text must be a string"], Errors(result));
    }

    [Fact]
    public void Line_exactly_at_the_limit_passes_even_with_crlf()
    {
        var row = "{\"text\":\"" + new string('x', 64 - 11) + "\"}";
        Assert.Equal(64, row.Length);
        Assert.True(Validate(row + "\r\n" + row + "\n", new DatasetValidationOptions(MaxLineBytes: 64)).IsValid);
    }

    [Fact]
    public void Keeps_the_first_errors_and_counts_all()
    {
        var content = "{\"text\":\"a\"}\n" + string.Concat(Enumerable.Repeat("{\"text\":1}\n", 30));
        var result = Validate(content, new DatasetValidationOptions(MaxErrors: 5));
        Assert.Equal(5, result.Errors.Count);
        Assert.Equal(30, result.TotalErrorCount);
        Assert.Equal("line 2: text must be a string", result.Errors[0].ToString());
        Assert.Equal("line 6: text must be a string", result.Errors[4].ToString());
    }
}

/// <summary>These tests measure retained memory, so they run alone: other tests' allocations would blur it.</summary>
[CollectionDefinition(nameof(MemoryMeasurements), DisableParallelization = true)]
public sealed class MemoryMeasurements;

[Collection(nameof(MemoryMeasurements))]
public sealed class JsonlValidatorMemoryTests
{
    /// <summary>Bytes the validator keeps alive after reading <paramref name="chunks"/>, between two full collections.</summary>
    private static long Retained(DatasetValidationOptions options, IEnumerable<byte[]> chunks, out DatasetValidationResult result)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        using var validator = new JsonlValidator(options);
        foreach (var chunk in chunks) validator.Append(chunk);
        var retained = GC.GetTotalMemory(forceFullCollection: true) - before;
        result = validator.Complete();
        return retained;
    }

    [Fact]
    public void Holds_one_line_however_many_it_has_read()
    {
        // 32 MB of 1 KB rows in 64-row chunks: a validator that kept what it read would retain ~32 MB.
        var row = Encoding.UTF8.GetBytes("{\"text\":\"" + new string('y', 1000) + "\"}\n");
        var chunk = Enumerable.Repeat(row, 64).SelectMany(r => r).ToArray();
        var retained = Retained(new DatasetValidationOptions(), Enumerable.Repeat(chunk, 512), out var result);
        Assert.True(result.IsValid);
        Assert.Equal(64 * 512, result.RowCount);
        Assert.Equal(64L * 512 * row.Length, result.ByteCount);
        Assert.True(retained < 1 << 20, $"retained {retained} bytes after reading {result.ByteCount}");
    }

    [Fact]
    public void Holds_a_line_over_the_limit_only_up_to_the_limit()
    {
        // One 32 MB line against a 64 KB limit.
        var chunk = Enumerable.Repeat((byte)'x', 64 << 10).ToArray();
        var retained = Retained(new DatasetValidationOptions(MaxLineBytes: 64 << 10), Enumerable.Repeat(chunk, 512), out var result);
        Assert.Equal(["line 1: line is longer than 65536 bytes"], result.Errors.Select(e => e.ToString()));
        Assert.True(retained < 1 << 20, $"retained {retained} bytes after reading {result.ByteCount}");
    }
}
