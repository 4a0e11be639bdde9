using System.Text.RegularExpressions;

namespace LoraService.Domain.Models;

/// <summary>A model's name is its folder in the models folder: one safe path component.</summary>
public static partial class ModelNames
{
    public const string Rule = "name must be 1 to 64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit.";

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex Pattern();

    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);
}
