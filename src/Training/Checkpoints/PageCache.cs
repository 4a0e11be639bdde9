using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LoraService.Training.Checkpoints;

/// <summary>How much of a file the kernel already holds in memory (Linux <c>mincore</c> over a mapping of it).</summary>
static class PageCache
{
    const int ProtectRead = 1, MapShared = 1;

    /// <summary>The fraction of the file's pages in the page cache; null where that cannot be asked.</summary>
    public static double? ResidentFraction(SafeFileHandle handle, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
            return null;
        try
        {
            var mapping = Map(0, (nint)length, ProtectRead, MapShared, (int)handle.DangerousGetHandle(), 0);
            if (mapping == -1)
                return null;
            try
            {
                var pageSize = Environment.SystemPageSize;
                var residency = new byte[(length + pageSize - 1) / pageSize];
                if (Residency(mapping, (nint)length, residency) != 0)
                    return null;
                return residency.Count(page => (page & 1) != 0) / (double)residency.Length;
            }
            finally
            {
                _ = Unmap(mapping, (nint)length);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "mmap")]
    private static extern nint Map(nint address, nint length, int protection, int flags, int descriptor, long offset);

    [DllImport("libc", EntryPoint = "mincore")]
    private static extern int Residency(nint address, nint length, byte[] vector);

    [DllImport("libc", EntryPoint = "munmap")]
    private static extern int Unmap(nint address, nint length);
}
