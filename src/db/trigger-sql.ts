/**
 * SQL pieces of the migrations' triggers.
 *
 * `after update of <columns> on <table> for each row when (<one of them changed>)`: a row trigger
 * that fires only when one of `columns` really changes — a rewrite of the same values fires nothing.
 * One list serves both clauses, so a column added to what a trigger watches cannot be left out of
 * its WHEN (or the other way round).
 */
export function afterChangeOf(table: string, columns: string[]): string {
  return `after update of ${columns.join(', ')} on ${table} for each row
      when (${columns.map((column) => `old.${column} is distinct from new.${column}`).join(' or ')})`;
}
