using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LoraService.Training.Checkpoints;

/// <summary><c>posix_fadvise</c> hints on Linux; elsewhere nothing (they only ever change speed, never results).</summary>
static class FileAdvice
{
    const int WillNeedAdvice = 3, DontNeedAdvice = 4; // POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED

    /// <summary>Start reading the range into the page cache now.</summary>
    public static void WillNeed(SafeFileHandle handle, long offset, long length) => Advise(handle, offset, length, WillNeedAdvice);

    /// <summary>Drop the file's clean pages from the page cache (how a benchmark or test makes the next read cold without root).</summary>
    public static void DontNeed(SafeFileHandle handle) => Advise(handle, 0, 0, DontNeedAdvice);

    static void Advise(SafeFileHandle handle, long offset, long length, int advice)
    {
        if (!OperatingSystem.IsLinux() || length < 0)
            return;
        try
        {
            _ = PosixFadvise((int)handle.DangerousGetHandle(), offset, length, advice);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // A libc without the call: the read is merely slower.
        }
    }

    [DllImport("libc", EntryPoint = "posix_fadvise")]
    private static extern int PosixFadvise(int fd, long offset, long length, int advice);
}
