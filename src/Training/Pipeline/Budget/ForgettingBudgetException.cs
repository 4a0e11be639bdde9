namespace LoraService.Training.Pipeline.Budget;

/// <summary>No evaluated step after the base model stayed within the job's forgetting budget: there is nothing to export.</summary>
public sealed class ForgettingBudgetException(string message) : RunRefusedException(ErrorCode, message)
{
    public const string ErrorCode = "forgetting_budget";
}
