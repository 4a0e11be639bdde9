using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LoraService.Domain.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class ModelSupport : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "supported",
                table: "base_models",
                type: "boolean",
                nullable: false,
                // Rows catalogued before this column were all models the engine accepted; the next sync re-checks them.
                defaultValue: true);

            migrationBuilder.AddColumn<string>(
                name: "unsupported_reason",
                table: "base_models",
                type: "text",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "supported",
                table: "base_models");

            migrationBuilder.DropColumn(
                name: "unsupported_reason",
                table: "base_models");
        }
    }
}
