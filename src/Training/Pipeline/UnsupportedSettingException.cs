namespace LoraService.Training.Pipeline;

/// <summary>A job setting this engine cannot honour on the device it runs on.</summary>
public sealed class UnsupportedSettingException(string message) : RunRefusedException(ErrorCode, message)
{
    public const string ErrorCode = "unsupported_setting";
}
