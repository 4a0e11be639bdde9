using System.Runtime.InteropServices;

namespace LoraService.Training.Checkpoints;

/// <summary>
/// A file opened for reads that bypass the page cache (Linux <c>O_DIRECT</c>): the disk writes straight into the
/// caller's memory. File offsets, lengths and memory addresses must be multiples of <see cref="Alignment"/>.
/// <see cref="TryOpen"/> gives null where there are no such reads (another OS, tmpfs); callers then read the ordinary way.
/// </summary>
public sealed class DirectFile : IDisposable
{
    /// <summary>4 KiB: a multiple of every logical block size in use (512 B and 4 KiB sectors).</summary>
    public const int Alignment = 4096;

    const int ReadOnly = 0, CloseOnExec = 0x80000;
    const int Interrupted = 4, Invalid = 22; // EINTR, EINVAL

    readonly string path;
    int descriptor;

    DirectFile(string path, int descriptor) => (this.path, this.descriptor) = (path, descriptor);

    public static DirectFile? TryOpen(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        var direct = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 0x4000,
            Architecture.Arm64 => 0x10000,
            _ => 0,
        };
        if (direct == 0)
            return null;
        var descriptor = OpenFile(path, ReadOnly | CloseOnExec | direct);
        return descriptor < 0 ? null : new DirectFile(path, descriptor);
    }

    /// <summary>
    /// Fills <paramref name="destination"/> from <paramref name="offset"/>. False when the file system turns a direct
    /// read down (it may accept the open and refuse the read); the destination's contents are then unspecified.
    /// </summary>
    public bool TryRead(Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            var read = PositionalRead(descriptor, ref MemoryMarshal.GetReference(destination), destination.Length, offset);
            if (read < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error == Interrupted)
                    continue;
                if (error == Invalid)
                    return false;
                throw new IOException($"{path}: direct read of {destination.Length} bytes at {offset} failed (errno {error})");
            }
            if (read == 0)
                throw new EndOfStreamException($"{path}: ends before byte {offset + destination.Length}");
            if (read % Alignment != 0 && read < destination.Length)
                return false;
            destination = destination[(int)read..];
            offset += read;
        }
        return true;
    }

    public void Dispose()
    {
        if (descriptor >= 0)
            _ = CloseFile(descriptor);
        descriptor = -1;
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int OpenFile([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static extern nint PositionalRead(int descriptor, ref byte buffer, nint count, long offset);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int CloseFile(int descriptor);
}
