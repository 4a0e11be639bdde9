using System.Runtime.InteropServices;

namespace LoraService.Training.Tests;

/// <summary>
/// A real size-limited filesystem (tmpfs) mounted on a fresh folder, for tests of what happens when a disk fills up.
/// Unmounted (lazily) and removed on dispose. Mounting needs privilege (root with CAP_SYS_ADMIN).
/// </summary>
internal sealed class SmallFilesystem : IDisposable
{
    private const int Eperm = 1, Eacces = 13, MntDetach = 2;

    public string Path { get; }

    private SmallFilesystem(string path) => Path = path;

    public string this[string name] => System.IO.Path.Combine(Path, name);

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> on a new folder; throws (the test fails) if the mount is refused.</summary>
    public static SmallFilesystem Mount(long bytes)
    {
        var path = Directory.CreateTempSubdirectory("lora-smallfs-").FullName;
        if (TryMount(path, bytes) is { } error)
        {
            Directory.Delete(path);
            throw new InvalidOperationException($"mounting a {bytes}-byte tmpfs on {path} failed: {error}");
        }
        return new SmallFilesystem(path);
    }

    public long FreeBytes => new DriveInfo(Path).AvailableFreeSpace;

    /// <summary>Writes a filler file so that only about <paramref name="freeBytes"/> (rounded to pages) stay free.</summary>
    public void FillLeaving(long freeBytes)
    {
        var fill = (FreeBytes - freeBytes) / 4096 * 4096;
        if (fill <= 0) return;
        using var filler = new FileStream(this[$"filler-{Guid.NewGuid():N}"], FileMode.CreateNew, FileAccess.Write);
        var block = new byte[1 << 16];
        for (long written = 0; written < fill; written += block.Length)
            filler.Write(block, 0, (int)Math.Min(block.Length, fill - written));
    }

    /// <summary>Deletes the filler files, giving the space back.</summary>
    public void FreeFiller()
    {
        foreach (var filler in Directory.GetFiles(Path, "filler-*")) File.Delete(filler);
    }

    public void Dispose()
    {
        umount2(Path, MntDetach);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }

    /// <summary>
    /// Why these tests cannot run here, or null when they can: only a lack of privilege (not root, or a container that
    /// forbids mount: EPERM/EACCES) is a reason to skip. Any other refusal is not: the test then runs and fails, saying why.
    /// </summary>
    public static string? WhyUnavailable() => Probe.Value;

    private static readonly Lazy<string?> Probe = new(() =>
    {
        if (!OperatingSystem.IsLinux()) return "tmpfs mounts are Linux-only";
        var path = Directory.CreateTempSubdirectory("lora-smallfs-probe-").FullName;
        try
        {
            if (mount("tmpfs", path, "tmpfs", 0, "size=64k") == 0)
            {
                umount2(path, MntDetach);
                return null;
            }
            var errno = Marshal.GetLastPInvokeError();
            return errno is Eperm or Eacces
                ? $"mount(2) of a tmpfs was refused for lack of privilege (errno {errno}: {Marshal.GetPInvokeErrorMessage(errno)}; euid {geteuid()}); run as root with CAP_SYS_ADMIN to test a full disk"
                : null;
        }
        finally
        {
            Directory.Delete(path);
        }
    });

    private static string? TryMount(string path, long bytes)
    {
        if (mount("tmpfs", path, "tmpfs", 0, $"size={bytes},mode=0777") == 0) return null;
        var errno = Marshal.GetLastPInvokeError();
        return $"errno {errno}: {Marshal.GetPInvokeErrorMessage(errno)}";
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mount(string source, string target, string fileSystemType, ulong flags, string data);

    [DllImport("libc", SetLastError = true)]
    private static extern int umount2(string target, int flags);

    [DllImport("libc")]
    private static extern uint geteuid();
}

/// <summary>
/// A fact that needs <see cref="SmallFilesystem"/>: reported as skipped, with the reason, only where mounting is refused
/// for lack of privilege; any other failure to mount fails the test.
/// </summary>
internal sealed class SmallFilesystemFactAttribute : FactAttribute
{
    public SmallFilesystemFactAttribute()
    {
        if (SmallFilesystem.WhyUnavailable() is { } reason) Skip = reason;
    }
}
