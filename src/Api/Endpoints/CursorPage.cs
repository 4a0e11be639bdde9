using LoraService.Domain;
using Microsoft.EntityFrameworkCore;

namespace LoraService.Api.Endpoints;

/// <summary>A page of a list, newest first. Pass <c>next_after</c> as <c>after</c> for the next page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Data, bool HasMore, Guid? NextAfter);

/// <summary>Newest-first cursor paging over a tenant's rows: the cursor is the last id seen, stable under inserts.</summary>
internal static class CursorPage
{
    public static string? CheckLimit(int? limit) => limit is null or (>= 1 and <= 100) ? null : "limit must be between 1 and 100.";

    /// <summary>Null when <paramref name="after"/> is not one of the tenant's rows. <paramref name="filter"/> narrows the
    /// page (e.g. by status) but not the cursor lookup, so a row whose status changed still works as a cursor.</summary>
    public static async Task<Page<TResult>?> ReadAsync<T, TResult>(
        IQueryable<T> source, Guid tenantId, Guid? after, int? limit, Func<T, TResult> map, CancellationToken ct,
        Func<IQueryable<T>, IQueryable<T>>? filter = null)
        where T : class, ITenantOwned
    {
        var take = limit ?? 20;
        var owned = source.AsNoTracking().Where(r => r.TenantId == tenantId);
        var query = filter is null ? owned : filter(owned);
        if (after is { } cursor)
        {
            var at = await owned.Where(r => r.Id == cursor).Select(r => (DateTimeOffset?)r.CreatedAt).SingleOrDefaultAsync(ct);
            if (at is null) return null;
            query = query.Where(r => r.CreatedAt < at || (r.CreatedAt == at && r.Id.CompareTo(cursor) < 0));
        }
        var rows = await query.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Take(take + 1).ToListAsync(ct);
        var page = rows.Take(take).ToList();
        return new Page<TResult>(page.Select(map).ToList(), rows.Count > take, rows.Count > take ? page[^1].Id : null);
    }
}
