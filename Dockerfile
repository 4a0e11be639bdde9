# CPU image for the API and CPU workers: runs wherever Docker does (no GPU, no NVIDIA runtime).
# Build: docker build -t loraservice:cpu .        (docker-compose.yml builds it for the api, migrate and cpu profile)
# Ubuntu 24.04 (noble) images: its libstdc++ has GLIBCXX_3.4.32, so TorchSharp's native bridge loads as shipped
# (build/libstdcxx-compat, run after publish, is a no-op there).
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Worker -c Release -o /out/worker \
 && dotnet publish src/Api -c Release -o /out/api

FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble AS runtime
# curl for the health check; /data belongs to the image's non-root user (app, uid 1654), so a fresh volume does too.
RUN apt-get update && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown 1654:1654 /data
COPY --from=build /out /app
ENV Lora__ModelsPath=/data/models Lora__ArtifactsPath=/data/artifacts \
    ASPNETCORE_URLS=http://0.0.0.0:8080 GLIBC_TUNABLES=glibc.malloc.hugetlb=1
VOLUME /data
EXPOSE 8080
# By number, so Kubernetes' runAsNonRoot can check it.
USER 1654
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
# The same image runs either host: the worker (default), `dotnet /app/api/LoraService.Api.dll`, or the one-shot
# `dotnet /app/api/LoraService.Api.dll --migrate-only`.
CMD ["dotnet", "/app/worker/LoraService.Worker.dll"]
