using TorchSharp;
using static TorchSharp.torch;

namespace LoraService.Training.Tests;

/// <summary>Proves the native libtorch bridge loads on this machine and does real work.</summary>
public sealed class TorchSharpSmokeTests
{
    [Fact]
    public void Forward_backward_and_optimizer_step_reduce_the_loss()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1));
        var optimizer = optim.AdamW(model.parameters(), lr: 0.05, weight_decay: 0.0);
        var x = randn(32, 4);
        var y = x.sum(1, keepdim: true);

        float Loss() => nn.functional.mse_loss(model.call(x), y).item<float>();
        var before = Loss();
        for (var step = 0; step < 50; step++)
        {
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(model.call(x), y);
            loss.backward();
            optimizer.step();
        }

        Assert.True(Loss() < before / 4, $"loss {Loss()} did not fall from {before}");
    }

    [Fact]
    public void Svd_recovers_a_known_spectrum()
    {
        using var scope = NewDisposeScope();
        var (q1, _) = linalg.qr(randn(6, 6, dtype: float64));
        var (q2, _) = linalg.qr(randn(6, 6, dtype: float64));
        var sigma = tensor(new[] { 5.0, 3.0, 2.0, 1.0, 0.5, 0.1 });
        var m = q1.matmul(diag(sigma)).matmul(q2.T);

        var singular = linalg.svdvals(m);

        Assert.True(allclose(singular, sigma, rtol: 1e-9, atol: 1e-9));
    }
}
