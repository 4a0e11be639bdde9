namespace LoraService.Training.Lora;

/// <summary>An adapter directory that is not a LoRA adapter PEFT would load onto this model.</summary>
public sealed class AdapterMismatchException(string message) : Exception(message);
