using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LoraService.Training.Checkpoints;

/// <summary><c>posix_fadvise</c> hints on Linux; elsewhere nothing (they only ever change speed, never results).</summary>
static class FileAdvice
{
    const int WillNeedAdvice = 3; // POSIX_FADV_WILLNEED

    public static void WillNeed(SafeFileHandle handle, long offset, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
            return;
        try
        {
            _ = PosixFadvise((int)handle.DangerousGetHandle(), offset, length, WillNeedAdvice);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // A libc without the call: the read is merely slower.
        }
    }

    [DllImport("libc", EntryPoint = "posix_fadvise")]
    private static extern int PosixFadvise(int fd, long offset, long length, int advice);
}
