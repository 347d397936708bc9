//! Server-side tables (`meta.k8s.io/v1` `Table`) and the kubectl printer for them.
//!
//! kubectl asks the server to render objects as a Table (columns with a priority, rows
//! of cells) and prints it with its `HumanReadablePrinter`: headers uppercased, only
//! priority-0 columns unless `-o wide`, a NAMESPACE column for `-A`, cells aligned by
//! Go's `text/tabwriter` (liggitt's fork with `RememberWidths`: minwidth 6, padding 3).
//! [`TablePrinter`] reproduces that output byte for byte, including the watch case where
//! only the first event carries column definitions and the header is printed once.

use std::io::{self, Write};

use serde::Deserialize;
use serde_json::Value;

use crate::golang;
use crate::meta::{ListMeta, PartialObject, nullable};

/// A `meta.k8s.io/v1` `Table`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Table {
    /// The list metadata: resourceVersion to watch from, continue token.
    pub metadata: ListMeta,
    /// The columns. Empty in watch events after the first: the server sends them once.
    #[serde(deserialize_with = "nullable")]
    pub column_definitions: Vec<TableColumn>,
    /// The rows.
    #[serde(deserialize_with = "nullable")]
    pub rows: Vec<TableRow>,
}

/// A column definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TableColumn {
    /// The column name, printed uppercased (`Nominated Node` → `NOMINATED NODE`).
    pub name: String,
    /// The OpenAPI type of its cells (`string`, `integer`, `number`, `boolean`, `date`).
    #[serde(rename = "type")]
    pub column_type: String,
    /// A format hint; `name` marks the column holding object names.
    pub format: String,
    /// 0 for the default view; higher priorities appear only with `-o wide`.
    pub priority: i32,
}

/// A row: its cells and (by default) the object's metadata.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct TableRow {
    /// One cell per column: strings, numbers, booleans, arrays or null.
    #[serde(deserialize_with = "nullable")]
    pub cells: Vec<Value>,
    /// The object the row shows, decoded for its metadata (namespace, labels); absent
    /// with `includeObject=None`.
    pub object: Option<PartialObject>,
}

/// How to print tables (the kubectl flags that affect it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrintOptions {
    /// `-o wide`: show every column, not only priority 0.
    pub wide: bool,
    /// `-A`: prepend a NAMESPACE column.
    pub with_namespace: bool,
    /// `--show-labels`: append a LABELS column.
    pub show_labels: bool,
    /// `--no-headers`.
    pub no_headers: bool,
    /// Prefix names with `pod/`, `deployment.apps/` (when one command prints several
    /// resource types).
    pub kind_prefix: Option<String>,
}

/// Prints tables like kubectl, across several tables (pages, watch events) that share
/// columns: the header appears once and widths never shrink.
#[derive(Debug)]
pub struct TablePrinter {
    options: PrintOptions,
    last_columns: Vec<TableColumn>,
    printed_headers: bool,
    writer: TabWriter,
}

impl TablePrinter {
    /// A printer with `options`.
    pub fn new(options: PrintOptions) -> Self {
        TablePrinter {
            options,
            last_columns: Vec::new(),
            printed_headers: false,
            writer: TabWriter::kubectl(),
        }
    }

    /// Adds `table` to the buffered output. The header is printed unless it was already
    /// printed for the same columns; a table without column definitions (a watch event
    /// after the first) reuses the last ones. Call [`TablePrinter::flush`] to write.
    pub fn print(&mut self, table: &Table) {
        self.print_events(table, &[]);
    }

    /// Like [`TablePrinter::print`], with kubectl's `--output-watch-events` EVENT column
    /// first: `events[i]` (`ADDED`, `MODIFIED`, ...) is row `i`'s event. No events: no
    /// column.
    pub fn print_events(&mut self, table: &Table, events: &[&str]) {
        // kubectl's HumanReadablePrinter.PrintObj, step by step.
        let mut no_headers = self.options.no_headers;
        if self.printed_headers
            && (table.column_definitions.is_empty()
                || table.column_definitions == self.last_columns)
        {
            no_headers = true;
        }
        if !table.column_definitions.is_empty() && table.column_definitions != self.last_columns {
            self.last_columns = table.column_definitions.clone();
            self.printed_headers = false;
        }
        if !table.rows.is_empty() {
            self.printed_headers = true;
        }
        let text = render(
            &self.last_columns,
            &table.rows,
            events,
            &self.options,
            no_headers,
        );
        self.writer.write_str(&text);
    }

    /// Aligns everything printed since the last flush and writes it to `out`.
    pub fn flush(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.writer.flush();
        out.write_all(&self.writer.take_output())
    }

    /// Forgets remembered column widths, before printing a different resource type.
    pub fn reset_widths(&mut self) {
        self.writer.reset_remembered_widths();
    }
}

/// The tab-separated text kubectl's `decorateTable` + `printTable` write for `rows`.
fn render(
    columns: &[TableColumn],
    rows: &[TableRow],
    events: &[&str],
    options: &PrintOptions,
    no_headers: bool,
) -> String {
    let visible = |column: &TableColumn| options.wide || column.priority == 0;
    let name_column = options.kind_prefix.as_ref().and_then(|_| {
        columns
            .iter()
            .position(|c| c.format == "name" && c.column_type == "string")
    });
    let mut out = String::new();
    // printTable skips the header of an empty table, so that a watch prints it with the
    // first row that arrives.
    if !no_headers && !rows.is_empty() {
        let mut headers: Vec<String> = Vec::new();
        // kubectl adds EVENT at the beginning after decorating, so before NAMESPACE.
        if !events.is_empty() {
            headers.push("EVENT".into());
        }
        if options.with_namespace {
            headers.push("NAMESPACE".into());
        }
        headers.extend(
            columns
                .iter()
                .filter(|c| visible(c))
                .map(|c| c.name.to_uppercase()),
        );
        if options.show_labels {
            headers.push("LABELS".into());
        }
        out.push_str(&headers.join("\t"));
        out.push('\n');
    }
    for (i, row) in rows.iter().enumerate() {
        let mut cells: Vec<String> = Vec::new();
        if !events.is_empty() {
            cells.push(format_event_type(
                events.get(i).copied().unwrap_or_default(),
            ));
        }
        if options.with_namespace {
            cells.push(
                row.object
                    .as_ref()
                    .map(|o| escape_terminal(&o.metadata.namespace))
                    .unwrap_or_default(),
            );
        }
        for (i, cell) in row.cells.iter().enumerate() {
            let Some(column) = columns.get(i) else {
                // More cells than columns from a misbehaving server: kubectl stops here.
                break;
            };
            if !visible(column) {
                continue;
            }
            let text = match (&options.kind_prefix, name_column) {
                (Some(kind), Some(n)) if n == i => {
                    cell_text(&Value::String(format!("{kind}/{}", plain(cell))))
                }
                _ => cell_text(cell),
            };
            cells.push(text);
        }
        if options.show_labels {
            cells.push(
                row.object
                    .as_ref()
                    .map(|o| format_labels(&o.metadata.labels))
                    .unwrap_or_default(),
            );
        }
        out.push_str(&cells.join("\t"));
        out.push('\n');
    }
    out
}

/// kubectl's `formatEventType`: the known types padded to the width of `MODIFIED`.
fn format_event_type(event: &str) -> String {
    match event {
        "ADDED" => "ADDED   ".into(),
        "MODIFIED" => "MODIFIED".into(),
        "DELETED" => "DELETED ".into(),
        "ERROR" => "ERROR   ".into(),
        other => other.into(),
    }
}

/// A cell as kubectl prints it: nothing for null, strings cut at the first line break
/// (with `...`), everything else through `fmt.Sprint`; terminal escapes neutralized.
fn cell_text(cell: &Value) -> String {
    match cell {
        Value::Null => String::new(),
        Value::String(s) => match s.find(['\u{c}', '\n', '\r']) {
            Some(cut) => format!("{}...", escape_terminal(&s[..cut])),
            None => escape_terminal(s),
        },
        other => escape_terminal(&golang::sprint(other)),
    }
}

/// A cell's value as `%s` would show it, for the `kind/name` prefix.
fn plain(cell: &Value) -> String {
    match cell {
        Value::String(s) => s.clone(),
        other => golang::sprint(other),
    }
}

/// kubectl's `terminalEscaper` (issue #101695): a cell cannot drive the terminal.
fn escape_terminal(s: &str) -> String {
    if !s.contains(['\u{1b}', '\r']) {
        return s.to_string();
    }
    s.replace('\u{1b}', "^[").replace('\r', "\\r")
}

/// `labels.FormatLabels`: `k=v,k2=v2` sorted by key, `<none>` when empty.
fn format_labels(labels: &std::collections::BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "<none>".into();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Aligns tab-separated `text` the way kubectl's `printers.GetNewTabWriter` does (for
/// the tables kubectl prints itself, such as `api-resources`).
pub fn align(text: &str) -> String {
    let mut writer = TabWriter::kubectl();
    writer.write_str(text);
    writer.flush();
    String::from_utf8_lossy(&writer.take_output()).into_owned()
}

/// A port of Go's `text/tabwriter` as vendored by kubectl (`github.com/liggitt/tabwriter`)
/// with the settings of kubectl's `GetNewTabWriter`: minwidth 6, padding 3, space
/// padding, `RememberWidths`. Cells are tab-terminated; the text after a line's last tab
/// is not part of a column, so lines carry no trailing padding.
#[derive(Debug)]
struct TabWriter {
    minwidth: usize,
    padding: usize,
    /// Text of the buffered cells, without tabs and newlines.
    buf: String,
    /// `buf` position up to which the current cell's width has been counted.
    pos: usize,
    /// The incomplete cell being written.
    cell: Cell,
    /// Buffered lines, each a list of cells; the last one is the line being written.
    lines: Vec<Vec<Cell>>,
    /// Column widths while formatting.
    widths: Vec<usize>,
    /// `RememberWidths`: the widest each column has been, across flushes.
    max_widths: Vec<usize>,
    /// Formatted output not yet taken.
    output: Vec<u8>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    /// Size in bytes.
    size: usize,
    /// Width in runes (Go counts runes, not display columns).
    width: usize,
    /// Terminated by a tab (not a line end).
    htab: bool,
}

impl TabWriter {
    fn kubectl() -> Self {
        TabWriter {
            minwidth: 6,
            padding: 3,
            buf: String::new(),
            pos: 0,
            cell: Cell::default(),
            lines: vec![Vec::new()],
            widths: Vec::new(),
            max_widths: Vec::new(),
            output: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.cell = Cell::default();
        self.lines.clear();
        self.lines.push(Vec::new());
        self.widths.clear();
    }

    fn reset_remembered_widths(&mut self) {
        self.max_widths.clear();
    }

    fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    fn write_str(&mut self, text: &str) {
        let mut start = 0;
        for (i, ch) in text.bytes().enumerate() {
            if !matches!(ch, b'\t' | b'\x0b' | b'\n' | b'\x0c') {
                continue;
            }
            self.append(&text[start..i]);
            self.update_width();
            start = i + 1;
            let ncells = self.terminate_cell(ch == b'\t');
            if ch == b'\n' || ch == b'\x0c' {
                self.lines.push(Vec::new());
                // A line with a single cell cannot affect the alignment of later lines,
                // so Go flushes there.
                if ch == b'\x0c' || ncells == 1 {
                    self.flush();
                }
            }
        }
        self.append(&text[start..]);
    }

    fn append(&mut self, text: &str) {
        self.buf.push_str(text);
        self.cell.size += text.len();
    }

    fn update_width(&mut self) {
        self.cell.width += self.buf[self.pos..].chars().count();
        self.pos = self.buf.len();
    }

    fn terminate_cell(&mut self, htab: bool) -> usize {
        self.cell.htab = htab;
        let cell = std::mem::take(&mut self.cell);
        match self.lines.last_mut() {
            Some(line) => {
                line.push(cell);
                line.len()
            }
            None => {
                self.lines.push(vec![cell]);
                1
            }
        }
    }

    fn flush(&mut self) {
        if self.cell.size > 0 {
            self.terminate_cell(false);
        }
        let line_count = self.lines.len();
        self.format(0, 0, line_count);
        self.reset();
    }

    /// Formats lines `line0..line1`, the elastic-tabstops recursion of Go's tabwriter:
    /// each column block (consecutive lines that have a cell in this column) gets the
    /// width of its widest cell plus padding.
    fn format(&mut self, pos0: usize, mut line0: usize, line1: usize) -> usize {
        let mut pos = pos0;
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            // This line has a cell in `column`: print the lines before the block.
            pos = self.write_lines(pos, line0, this);
            line0 = this;

            let mut width = self.minwidth;
            while this < line1 {
                let line = &self.lines[this];
                if column + 1 >= line.len() {
                    break;
                }
                width = width.max(line[column].width + self.padding);
                this += 1;
            }

            if self.max_widths.len() < self.widths.len() {
                let from = self.max_widths.len();
                self.max_widths.extend_from_slice(&self.widths[from..]);
            }
            match self.max_widths.get_mut(column) {
                None => self.max_widths.push(width),
                Some(remembered) if *remembered > width => width = *remembered,
                Some(remembered) => *remembered = width,
            }

            self.widths.push(width);
            pos = self.format(pos, line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(pos, line0, line1)
    }

    fn write_lines(&mut self, pos0: usize, line0: usize, line1: usize) -> usize {
        let mut pos = pos0;
        for i in line0..line1 {
            for (j, cell) in self.lines[i].iter().enumerate() {
                if cell.size > 0 {
                    self.output
                        .extend_from_slice(&self.buf.as_bytes()[pos..pos + cell.size]);
                    pos += cell.size;
                }
                if let Some(&column_width) = self.widths.get(j) {
                    let padding = column_width.saturating_sub(cell.width);
                    self.output.extend(std::iter::repeat_n(b' ', padding));
                }
            }
            if i + 1 == self.lines.len() {
                // The last buffered line has no newline yet: write what is pending of it.
                self.output
                    .extend_from_slice(&self.buf.as_bytes()[pos..pos + self.cell.size]);
                pos += self.cell.size;
            } else {
                self.output.push(b'\n');
            }
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::fixture_body;

    fn table(fixture: &str) -> Table {
        serde_json::from_slice(fixture_body(fixture)).unwrap()
    }

    fn pods_table() -> Table {
        table(include_str!("../../tests/fixtures/pods-demo-table.http"))
    }

    fn print(tables: &[&Table], options: PrintOptions) -> String {
        let mut printer = TablePrinter::new(options);
        let mut out = Vec::new();
        for t in tables {
            printer.print(t);
        }
        printer.flush(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn tabwrite(text: &str) -> String {
        let mut w = TabWriter::kubectl();
        w.write_str(text);
        w.flush();
        String::from_utf8(w.take_output()).unwrap()
    }

    #[test]
    fn table_decodes_columns_rows_and_row_metadata() {
        let t = pods_table();
        assert_eq!(t.metadata.resource_version, "8384");
        assert_eq!(t.column_definitions.len(), 9);
        assert_eq!(t.column_definitions[7].name, "Nominated Node");
        assert_eq!(t.column_definitions[7].priority, 1);
        assert_eq!(t.rows.len(), 50);
        let object = t.rows[1].object.as_ref().unwrap();
        assert_eq!(object.metadata.name, "demo-00001");
        assert_eq!(object.metadata.namespace, "demo");
    }

    #[test]
    fn table_prints_priority_zero_columns_only() {
        let out = print(&[&pods_table()], PrintOptions::default());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 51);
        // What kubectl prints for this list.
        assert_eq!(lines[0], "NAME         READY   STATUS    RESTARTS   AGE");
        assert_eq!(lines[1], "demo-00000   0/1     Pending   0          12m");
        assert_eq!(lines[2], "demo-00001   1/1     Running   1          12m");
        assert!(out.ends_with("12m\n"));
    }

    #[test]
    fn table_prints_every_column_with_wide() {
        let options = PrintOptions {
            wide: true,
            ..Default::default()
        };
        let out = print(&[&pods_table()], options);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "NAME         READY   STATUS    RESTARTS   AGE   IP             NODE     NOMINATED NODE   READINESS GATES"
        );
        assert_eq!(
            lines[1],
            "demo-00000   0/1     Pending   0          12m   <none>         <none>   <none>           <none>"
        );
        assert_eq!(
            lines[2],
            "demo-00001   1/1     Running   1          12m   127.244.0.2    node-2   <none>           <none>"
        );
    }

    #[test]
    fn table_lines_have_no_trailing_spaces() {
        let out = print(&[&pods_table()], PrintOptions::default());
        assert!(out.lines().all(|l| !l.ends_with(' ')));
    }

    #[test]
    fn table_prepends_namespace_column_from_row_objects() {
        let options = PrintOptions {
            with_namespace: true,
            ..Default::default()
        };
        let out = print(&[&pods_table()], options);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "NAMESPACE   NAME         READY   STATUS    RESTARTS   AGE"
        );
        assert_eq!(
            lines[1],
            "demo        demo-00000   0/1     Pending   0          12m"
        );
    }

    #[test]
    fn table_without_row_objects_leaves_namespace_empty() {
        let t = table(include_str!(
            "../../tests/fixtures/pods-demo-table-includeObject-None.http"
        ));
        assert!(t.rows.iter().all(|r| r.object.is_none()));
        let options = PrintOptions {
            with_namespace: true,
            ..Default::default()
        };
        let out = print(&[&t], options);
        assert_eq!(
            out.lines().nth(1).unwrap(),
            "            demo-00000   0/1     Pending   0          12m"
        );
    }

    #[test]
    fn table_appends_labels_with_show_labels() {
        let options = PrintOptions {
            show_labels: true,
            ..Default::default()
        };
        let out = print(&[&pods_table()], options);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].ends_with("AGE   LABELS"), "{}", lines[0]);
        let object = pods_table().rows[0].object.clone().unwrap();
        let labels = format_labels(&object.metadata.labels);
        assert!(
            lines[1].ends_with(&format!("12m   {labels}")),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn table_prints_no_headers_when_asked() {
        let options = PrintOptions {
            no_headers: true,
            ..Default::default()
        };
        let out = print(&[&pods_table()], options);
        // Without the header the columns are only as wide as their cells.
        assert!(
            out.starts_with("demo-00000   0/1   Pending   0     12m\n"),
            "{out}"
        );
    }

    #[test]
    fn table_prefixes_names_with_the_kind() {
        let options = PrintOptions {
            kind_prefix: Some("pod".into()),
            ..Default::default()
        };
        let out = print(&[&pods_table()], options);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "NAME             READY   STATUS    RESTARTS   AGE"
        );
        assert_eq!(
            lines[1],
            "pod/demo-00000   0/1     Pending   0          12m"
        );
    }

    #[test]
    fn node_table_prints_like_kubectl() {
        let t = table(include_str!("../../tests/fixtures/nodes-table.http"));
        let out = print(&[&t], PrintOptions::default());
        assert_eq!(
            out,
            "NAME     STATUS   ROLES    AGE   VERSION\n\
             node-1   Ready    <none>   12m   v1.36.2\n\
             node-2   Ready    <none>   12m   v1.36.2\n\
             node-3   Ready    <none>   12m   v1.36.2\n"
        );
    }

    #[test]
    fn empty_table_prints_nothing() {
        let t = Table {
            column_definitions: pods_table().column_definitions,
            ..Default::default()
        };
        assert_eq!(print(&[&t], PrintOptions::default()), "");
    }

    #[test]
    fn watch_tables_without_columns_reuse_the_first_columns_and_print_the_header_once() {
        let list = pods_table();
        let mut event = Table {
            rows: vec![list.rows[1].clone()],
            ..Default::default()
        };
        event.rows[0].cells[0] = Value::String("watch-demo-with-a-long-name".into());
        let mut printer = TablePrinter::new(PrintOptions::default());
        let mut out = Vec::new();
        // The list, then an event with column definitions (the first one of a watch),
        // then one without (the server sets NoHeaders after the first).
        let mut first_event = event.clone();
        first_event.column_definitions = list.column_definitions.clone();
        let mut list_head = list.clone();
        list_head.rows.truncate(1);
        printer.print(&list_head);
        printer.flush(&mut out).unwrap();
        printer.print(&first_event);
        printer.flush(&mut out).unwrap();
        printer.print(&event);
        printer.flush(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "NAME         READY   STATUS    RESTARTS   AGE\n\
             demo-00000   0/1     Pending   0          12m\n\
             watch-demo-with-a-long-name   1/1     Running   1          12m\n\
             watch-demo-with-a-long-name   1/1     Running   1          12m\n"
        );
    }

    #[test]
    fn watch_rows_stay_aligned_with_the_wider_list_columns() {
        let list = pods_table();
        let mut printer = TablePrinter::new(PrintOptions::default());
        let mut out = Vec::new();
        printer.print(&list);
        printer.flush(&mut out).unwrap();
        let mut event = Table {
            rows: vec![list.rows[0].clone()],
            ..Default::default()
        };
        event.rows[0].cells[0] = Value::String("w".into());
        printer.print(&event);
        printer.flush(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out.lines().last().unwrap(),
            "w            0/1     Pending   0          12m"
        );
    }

    #[test]
    fn watch_before_any_row_prints_the_header_with_the_first_row() {
        let list = pods_table();
        let empty = Table {
            column_definitions: list.column_definitions.clone(),
            ..Default::default()
        };
        let event = Table {
            rows: vec![list.rows[0].clone()],
            ..Default::default()
        };
        assert_eq!(
            print(&[&empty, &event], PrintOptions::default()),
            "NAME         READY   STATUS    RESTARTS   AGE\n\
             demo-00000   0/1     Pending   0          12m\n"
        );
    }

    #[test]
    fn cells_of_every_json_type_print_like_fmt_sprint() {
        let t: Table = serde_json::from_str(
            r#"{"columnDefinitions":[
                {"name":"Name","type":"string","format":"name","priority":0},
                {"name":"Count","type":"integer","priority":0},
                {"name":"Ratio","type":"number","priority":0},
                {"name":"Ok","type":"boolean","priority":0},
                {"name":"List","type":"string","priority":0},
                {"name":"Nothing","type":"string","priority":0},
                {"name":"Last","type":"string","priority":0}],
              "rows":[{"cells":["a",3,0.5,true,["x","y"],null,"line1\nline2"]}]}"#,
        )
        .unwrap();
        assert_eq!(
            print(&[&t], PrintOptions::default()),
            "NAME   COUNT   RATIO   OK     LIST    NOTHING   LAST\n\
             a      3       0.5     true   [x y]             line1...\n"
        );
    }

    #[test]
    fn cells_cannot_inject_terminal_escapes() {
        assert_eq!(
            cell_text(&Value::String("\u{1b}[31mred".into())),
            "^[[31mred"
        );
        assert_eq!(cell_text(&Value::String("a\rb".into())), "a...");
        assert_eq!(cell_text(&serde_json::json!(["\r"])), "[\\r]");
    }

    #[test]
    fn null_column_definitions_decode_as_empty() {
        let t: Table = serde_json::from_str(
            r#"{"kind":"Table","metadata":{"resourceVersion":"9"},"columnDefinitions":null,"rows":[{"cells":["x"],"object":null}]}"#,
        )
        .unwrap();
        assert!(t.column_definitions.is_empty());
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].object, None);
    }

    #[test]
    fn tabwriter_pads_to_the_widest_cell_plus_three_with_minimum_six() {
        assert_eq!(
            tabwrite("a\tb\tc\naaaaaaaa\tb\tc\n"),
            "a          b     c\naaaaaaaa   b     c\n"
        );
    }

    #[test]
    fn tabwriter_counts_runes_not_bytes() {
        assert_eq!(tabwrite("héllo\tx\nab\tx\n"), "héllo   x\nab      x\n");
    }

    #[test]
    fn tabwriter_keeps_trailing_padding_before_an_empty_last_cell() {
        // Go writes the padding of tab-terminated cells even when the line's last cell
        // is empty: kubectl rows whose last cell is null end in spaces.
        assert_eq!(tabwrite("a\t\nbb\tc\n"), "a     \nbb    c\n");
    }

    #[test]
    fn tabwriter_aligns_column_blocks_independently() {
        // Lines with fewer cells end a column block, as in Go's doc example.
        assert_eq!(
            tabwrite("aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n"),
            "aaaa   bbb   d\naa     b     dd\na      \naa     cccc   eee\n"
        );
    }
}
