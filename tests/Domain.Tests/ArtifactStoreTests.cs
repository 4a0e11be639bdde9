using LoraService.Domain.Artifacts;

namespace LoraService.Domain.Tests;

public sealed class ArtifactStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lora-store-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/../../escape")]
    [InlineData("/etc/passwd")]
    [InlineData("")]
    public void Keys_cannot_leave_the_root(string key)
    {
        Assert.Throws<ArgumentException>(() => new FileSystemArtifactStore(_root).PathFor(key));
    }

    [Fact]
    public async Task A_failed_write_leaves_no_file_behind()
    {
        var store = new FileSystemArtifactStore(_root);
        await Assert.ThrowsAsync<IOException>(() => store.WriteAsync("a/b.bin", new FailingStream(), CancellationToken.None));
        Assert.False(store.Exists("a/b.bin"));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "a")));
    }

    [Fact]
    public async Task Written_content_reads_back()
    {
        var store = new FileSystemArtifactStore(_root);
        var length = await store.WriteAsync("x/y.txt", new MemoryStream("hello"u8.ToArray()), CancellationToken.None);
        using var reader = new StreamReader(store.OpenRead("x/y.txt"));
        Assert.Equal((5L, "hello"), (length, await reader.ReadToEndAsync()));
    }

    private sealed class FailingStream : MemoryStream
    {
        private int _reads;

        public FailingStream() : base(new byte[1 << 20]) { }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ++_reads > 2 ? throw new IOException("connection dropped") : base.ReadAsync(buffer, cancellationToken);
    }
}
