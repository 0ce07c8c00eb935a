/** A table of counts: the first column names the row (a row header), the others are numbers. */
import { lines } from "./lines.js";

export function CountTable(props: {
  headers: readonly string[];
  rows: readonly string[][];
  caption?: string;
  /** A class per row (e.g. `sub` for a subdivision under its country, `total` for a roll-up row). */
  rowClasses?: readonly (string | undefined)[];
}) {
  return (
    <table>
      {lines(
        props.caption ? <caption>{props.caption}</caption> : null,
        <thead>
          <tr>
            {props.headers.map((h, i) =>
              i === 0 ? (
                <th scope="col">{h}</th>
              ) : (
                <th class="num" scope="col">
                  {h}
                </th>
              ),
            )}
          </tr>
        </thead>,
        <tbody>
          {lines(
            ...props.rows.map((row, r) => (
              <tr class={props.rowClasses?.[r]}>
                {row.map((v, i) => (i === 0 ? <th scope="row">{v}</th> : <td class="num">{v}</td>))}
              </tr>
            )),
          )}
        </tbody>,
      )}
    </table>
  );
}
