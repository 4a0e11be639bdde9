using static TorchSharp.torch;

namespace LoraService.Training.Checkpoints;

/// <summary>The safetensors dtype names this service reads and writes.</summary>
public static class SafetensorsDType
{
    public static bool TryParse(string name, out ScalarType type, out int size)
    {
        (type, size) = name switch
        {
            "F32" => (ScalarType.Float32, 4),
            "F16" => (ScalarType.Float16, 2),
            "BF16" => (ScalarType.BFloat16, 2),
            "F64" => (ScalarType.Float64, 8),
            "I64" => (ScalarType.Int64, 8),
            "I32" => (ScalarType.Int32, 4),
            _ => (ScalarType.Float32, 0),
        };
        return size > 0;
    }

    public static int Size(ScalarType type) => TryParse(Name(type), out _, out var size) ? size : 0;

    public static string Name(ScalarType type) => type switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        _ => throw new NotSupportedException($"dtype {type} cannot be written to safetensors by this service"),
    };
}
