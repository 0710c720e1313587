//! Readable figures for blindspot's report: line charts (robust accuracy against ε, a
//! distortion-vs-throughput frontier) and annotated heatmaps (the transfer tables), drawn with
//! [`plotters`] into an RGB buffer and handed back as a [`Raster`] for
//! [`blindspot_report::figures::save_png`].
//!
//! Text uses DejaVu Sans, embedded in the crate (`assets/DejaVuSans.ttf`, Bitstream Vera
//! licence in `assets/DejaVuSans-LICENSE.txt`) and registered with plotters once per process
//! under the family name `sans-serif`: nothing is read from the system.
//!
//! # Bad input
//! Nothing here panics on data. The rules:
//! - A size outside `MIN_SIZE..=MAX_SIZE` pixels per side is [`PlotError::Size`].
//! - [`heatmap`]: `values` must have one row per row label and each row one value per column
//!   label ([`PlotError::Shape`] otherwise); no rows or no columns is [`PlotError::Empty`].
//!   Non-finite cells (NaN, ±∞) are drawn as missing: light grey, hatched, with `–`; the colour
//!   scale spans the finite values only (`[0, 1]` when there are none).
//! - [`line_chart`]: points with a non-finite coordinate (and, on a log x axis, `x ≤ 0`) are
//!   skipped and the line is broken there; a series left without points stays in the legend.
//!   No drawable point at all is [`PlotError::Empty`]; a `y_range` that is not finite with
//!   `lo < hi` is [`PlotError::Range`]. Lines leaving `y_range` are clipped at its edge and
//!   markers outside it are not drawn.

use std::sync::OnceLock;

use blindspot_report::figures::Raster;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontTransform;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The family name the embedded font is registered under (plotters' default family).
const FONT: &str = "sans-serif";
/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The smallest width and height drawn, in pixels.
pub const MIN_SIZE: u32 = 120;
/// The largest width and height drawn, in pixels.
pub const MAX_SIZE: u32 = 8192;

/// Errors of figure drawing.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlotError {
    /// The image size is outside `MIN_SIZE..=MAX_SIZE`, or too small for the cells asked.
    #[error("cannot draw a {width}×{height} figure: {why}")]
    Size {
        /// Width asked.
        width: u32,
        /// Height asked.
        height: u32,
        /// Why it cannot be drawn.
        why: String,
    },
    /// A heatmap's values do not match its labels.
    #[error("{what}: expected {expected}, found {found}")]
    Shape {
        /// Which part does not match (`rows of values`, `values in row 3`).
        what: String,
        /// The length the labels ask for.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// Nothing to draw: no rows or columns, no series or no drawable point.
    #[error("nothing to draw: {0}")]
    Empty(String),
    /// A value range that is not finite with `lo < hi`.
    #[error("invalid range [{lo}, {hi}]: needs finite lo < hi")]
    Range {
        /// Lower end asked.
        lo: f64,
        /// Upper end asked.
        hi: f64,
    },
    /// The embedded font could not be registered.
    #[error("the embedded font could not be loaded")]
    Font,
    /// Drawing failed inside plotters.
    #[error("drawing failed: {0}")]
    Draw(String),
}

fn draw_err(e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeriesStyle {
    /// A line through the points (in the order given) with a marker on each.
    #[default]
    Line,
    /// Markers only (a scatter: a frontier's candidates).
    Markers,
}

/// One named series of `(x, y)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend's text.
    pub label: String,
    /// The points, drawn in this order.
    pub points: Vec<(f64, f64)>,
    /// Line or markers.
    pub style: SeriesStyle,
}

/// The series colours, in order (matplotlib's `tab10`, distinct and colour-blind tolerable);
/// series beyond ten reuse them with another marker shape.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// The heatmap's colour scale (ColorBrewer YlOrRd): pale yellow for the smallest value, dark
/// red for the largest.
const SCALE: [(u8, u8, u8); 9] = [
    (0xff, 0xff, 0xcc),
    (0xff, 0xed, 0xa0),
    (0xfe, 0xd9, 0x76),
    (0xfe, 0xb2, 0x4c),
    (0xfd, 0x8d, 0x3c),
    (0xfc, 0x4e, 0x2a),
    (0xe3, 0x1a, 0x1c),
    (0xbd, 0x00, 0x26),
    (0x80, 0x00, 0x26),
];

/// The heatmap scale's colour at `t ∈ [0, 1]` (clamped; NaN counts as 0): `scale_colour(0.0)`
/// is the smallest value's colour, `scale_colour(1.0)` the largest's.
pub fn scale_colour(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (SCALE.len() - 1) as f64;
    let i = (pos.floor() as usize).min(SCALE.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (SCALE[i], SCALE[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black or white, whichever reads better on `c` (by relative luminance).
fn contrast_text(c: RGBColor) -> RGBColor {
    let lin = |v: u8| {
        let s = v as f64 / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2);
    if l > 0.179 { BLACK } else { WHITE }
}

fn register_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

fn check_size((width, height): (u32, u32)) -> Result<(), PlotError> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&width) || !(MIN_SIZE..=MAX_SIZE).contains(&height) {
        return Err(PlotError::Size {
            width,
            height,
            why: format!("each side must be {MIN_SIZE}–{MAX_SIZE} pixels"),
        });
    }
    Ok(())
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws on a white `size` canvas and returns its pixels.
fn render(
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), PlotError>,
) -> Result<Raster, PlotError> {
    check_size(size)?;
    register_font()?;
    let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let backend = BitMapBackend::with_buffer_and_format(&mut buf, size).map_err(draw_err)?;
        let root = backend.into_drawing_area();
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    Raster::from_pixels(size.0, size.1, 3, buf).map_err(draw_err)
}

fn style(size: f64, colour: RGBColor) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, size).into_font(),
        color: colour.to_backend_color(),
        pos: Pos::new(HPos::Left, VPos::Top),
    }
}

/// Pixel width and height of `text` in `style` (0 × 0 if it cannot be measured).
fn text_size(area: &Area<'_>, text: &str, style: &TextStyle<'_>) -> (u32, u32) {
    area.estimate_text_size(text, style).unwrap_or((0, 0))
}

/// `text`, shortened in the middle with `…` until it is at most `max_px` wide.
fn fit(area: &Area<'_>, text: &str, max_px: u32, style: &TextStyle<'_>) -> String {
    if text_size(area, text, style).0 <= max_px {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 1 {
        keep -= 1;
        let head = keep.div_ceil(2);
        let tail = keep - head;
        let s: String = chars[..head]
            .iter()
            .chain(std::iter::once(&'…'))
            .chain(&chars[chars.len() - tail..])
            .collect();
        if text_size(area, &s, style).0 <= max_px {
            return s;
        }
    }
    "…".to_string()
}

/// A number as a tick label: no trailing zeros, exponent form outside `[1e-3, 1e6)`.
fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() {
            "0".into()
        } else {
            v.to_string()
        };
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// About `n` round tick values (steps of 1, 2 or 5 × 10^k) inside `[lo, hi]`.
fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return vec![lo];
    }
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

// ---------------------------------------------------------------------------------------------
// Heatmap

/// Where a heatmap's parts go, in pixels.
#[derive(Debug, Clone, PartialEq)]
struct HeatLayout {
    /// Left and top edge of the cell grid.
    x0: i32,
    y0: i32,
    /// One cell's size (cells are drawn one pixel smaller, leaving a white gap).
    cell_w: i32,
    cell_h: i32,
    /// The colour bar: left edge, width; it spans the grid's height.
    bar_x: i32,
    bar_w: i32,
    /// Row labels (shortened), right-aligned at `x0 - 6`.
    rows: Vec<String>,
    /// Column labels (shortened) and whether they are rotated (read bottom to top).
    cols: Vec<String>,
    cols_rotated: bool,
    /// Font size of the values in the cells, `None` where they do not fit.
    value_font: Option<f64>,
    /// The value range of the scale.
    lo: f64,
    hi: f64,
    /// Decimals of the cell values.
    decimals: usize,
}

const LABEL_FONT: f64 = 15.0;
const TICK_FONT: f64 = 13.0;
const TITLE_FONT: f64 = 20.0;
const MARGIN: i32 = 10;

fn heat_layout(
    area: &Area<'_>,
    size: (u32, u32),
    title: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<f64>],
) -> Result<HeatLayout, PlotError> {
    let (w, h) = (size.0 as i32, size.1 as i32);
    let finite = values.iter().flatten().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let max_abs = lo.abs().max(hi.abs());
    let decimals = if max_abs >= 1000.0 {
        0
    } else if max_abs >= 10.0 {
        1
    } else if max_abs >= 1.0 {
        2
    } else {
        3
    };
    let label = style(LABEL_FONT, BLACK);
    let tick = style(TICK_FONT, BLACK);
    let title_h = if title.is_empty() { 0 } else { 32 };

    // Right: gap, bar, tick marks and labels, the rotated value label.
    let tick_w = nice_ticks(lo, hi, 5)
        .iter()
        .map(|v| text_size(area, &fmt_num(*v), &tick).0 as i32)
        .max()
        .unwrap_or(0);
    let bar_w = 18;
    let right = 16 + bar_w + 6 + tick_w + 10 + LABEL_FONT as i32 + 4 + MARGIN;
    // Left: row labels, at most a third of the width.
    let max_row = (w / 3).max(20) as u32;
    let rows: Vec<String> = rows.iter().map(|r| fit(area, r, max_row, &label)).collect();
    let left = MARGIN
        + rows
            .iter()
            .map(|r| text_size(area, r, &label).0 as i32)
            .max()
            .unwrap_or(0)
        + 8;
    let ncols = cols.len() as i32;
    let nrows = rows.len() as i32;
    let cell_w = (w - left - right) / ncols;
    // Bottom: column labels, horizontal when they fit in a cell, else rotated.
    let flat: Vec<String> = cols
        .iter()
        .map(|c| fit(area, c, (cell_w - 6).max(1) as u32, &label))
        .collect();
    let cols_rotated = flat.iter().zip(cols).any(|(f, c)| f != c);
    let line_h = text_size(area, "Ag", &label).1 as i32;
    let (cols, bottom) = if cols_rotated {
        let max_col = (h / 3).max(20) as u32;
        let cols: Vec<String> = cols.iter().map(|c| fit(area, c, max_col, &label)).collect();
        let longest = cols
            .iter()
            .map(|c| text_size(area, c, &label).0 as i32)
            .max()
            .unwrap_or(0);
        (cols, longest + 10 + MARGIN)
    } else {
        (flat, line_h + 10 + MARGIN)
    };
    let y0 = MARGIN + title_h;
    let cell_h = (h - y0 - bottom) / nrows;
    if cell_w < 6 || cell_h < 6 {
        return Err(PlotError::Size {
            width: size.0,
            height: size.1,
            why: format!("{nrows}×{ncols} cells and their labels need more room"),
        });
    }
    // The largest font (8–18 px) at which every value fits in its cell.
    let widest = values
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .map(|v| format!("{v:.decimals$}"))
        .max_by_key(|s| s.len())
        .unwrap_or_default();
    let value_font = (8..=18).rev().map(f64::from).find(|&f| {
        let (tw, th) = text_size(area, &widest, &style(f, BLACK));
        (tw as i32) <= cell_w - 6 && (th as i32) <= cell_h - 4
    });
    Ok(HeatLayout {
        x0: left,
        y0,
        cell_w,
        cell_h,
        bar_x: left + cell_w * ncols + 16,
        bar_w,
        rows,
        cols,
        cols_rotated,
        value_font,
        lo,
        hi,
        decimals,
    })
}

/// A heatmap of `values` (`values[r][c]` for row `rows[r]`, column `cols[c]`), `size` =
/// `(width, height)` pixels: one coloured cell per value with the value printed in it (in the
/// colour that contrasts best, at the largest size that fits, left out where none does), row
/// labels on the left, column labels at the bottom (rotated and shortened with `…` when long),
/// and on the right a colour scale with tick values, titled `value_label`. The scale runs from
/// the smallest finite value (pale yellow) to the largest (dark red); missing values are
/// hatched grey cells with `–`. See the crate docs for the rules on bad input.
///
/// # Errors
/// [`PlotError::Shape`] when `values` does not match the labels, [`PlotError::Empty`] with no
/// rows or columns, [`PlotError::Size`] for a size out of bounds or too small for the cells.
pub fn heatmap(
    title: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<f64>],
    value_label: &str,
    size: (u32, u32),
) -> Result<Raster, PlotError> {
    if rows.is_empty() || cols.is_empty() {
        return Err(PlotError::Empty(format!(
            "a heatmap of {} rows and {} columns",
            rows.len(),
            cols.len()
        )));
    }
    if values.len() != rows.len() {
        return Err(PlotError::Shape {
            what: "rows of values (one per row label)".into(),
            expected: rows.len(),
            found: values.len(),
        });
    }
    if let Some((r, row)) = values
        .iter()
        .enumerate()
        .find(|(_, v)| v.len() != cols.len())
    {
        return Err(PlotError::Shape {
            what: format!("values in row {r} (one per column label)"),
            expected: cols.len(),
            found: row.len(),
        });
    }
    render(size, |root| {
        root.fill(&WHITE).map_err(draw_err)?;
        let l = heat_layout(root, size, title, rows, cols, values)?;
        draw_heatmap(root, size, title, values, value_label, &l)
    })
}

fn draw_heatmap(
    root: &Area<'_>,
    size: (u32, u32),
    title: &str,
    values: &[Vec<f64>],
    value_label: &str,
    l: &HeatLayout,
) -> Result<(), PlotError> {
    let (w, _) = (size.0 as i32, size.1 as i32);
    let text = |s: &str, pos: (i32, i32), st: TextStyle<'_>| {
        root.draw(&Text::new(s.to_string(), pos, st))
            .map_err(draw_err)
    };
    let label = style(LABEL_FONT, BLACK);
    if !title.is_empty() {
        let st = style(TITLE_FONT, BLACK).pos(Pos::new(HPos::Center, VPos::Top));
        let t = fit(root, title, (w - 2 * MARGIN) as u32, &st);
        text(&t, (w / 2, MARGIN), st)?;
    }
    let grid_bottom = l.y0 + l.cell_h * l.rows.len() as i32;
    let missing_fill = RGBColor(235, 235, 235);
    let hatch = RGBColor(190, 190, 190);
    for (r, row) in values.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let x = l.x0 + c as i32 * l.cell_w;
            let y = l.y0 + r as i32 * l.cell_h;
            let (x1, y1) = (x + l.cell_w - 2, y + l.cell_h - 2);
            let centre = (x + (l.cell_w - 1) / 2, y + (l.cell_h - 1) / 2);
            if v.is_finite() {
                let fill = scale_colour((v - l.lo) / (l.hi - l.lo));
                root.draw(&Rectangle::new([(x, y), (x1, y1)], fill.filled()))
                    .map_err(draw_err)?;
                if let Some(f) = l.value_font {
                    let st =
                        style(f, contrast_text(fill)).pos(Pos::new(HPos::Center, VPos::Center));
                    text(&format!("{v:.*}", l.decimals), centre, st)?;
                }
            } else {
                root.draw(&Rectangle::new([(x, y), (x1, y1)], missing_fill.filled()))
                    .map_err(draw_err)?;
                // 45° hatching: the lines (px - x) + (py - y) = k, clipped to the cell.
                let mut k = 6;
                while k < (x1 - x) + (y1 - y) {
                    let sx = (x + k).min(x1);
                    let sy = y + k - (sx - x);
                    let ey = (y + k).min(y1);
                    let ex = x + k - (ey - y);
                    root.draw(&PathElement::new(vec![(sx, sy), (ex, ey)], hatch))
                        .map_err(draw_err)?;
                    k += 7;
                }
                let f = l.value_font.unwrap_or(12.0).max(12.0);
                let st = style(f, BLACK).pos(Pos::new(HPos::Center, VPos::Center));
                text("–", centre, st)?;
            }
        }
    }
    // Row labels, right-aligned beside their row.
    for (r, name) in l.rows.iter().enumerate() {
        let y = l.y0 + r as i32 * l.cell_h + (l.cell_h - 1) / 2;
        let st = label.clone().pos(Pos::new(HPos::Right, VPos::Center));
        text(name, (l.x0 - 6, y), st)?;
    }
    // Column labels under their column.
    for (c, name) in l.cols.iter().enumerate() {
        let x = l.x0 + c as i32 * l.cell_w + (l.cell_w - 1) / 2;
        if l.cols_rotated {
            let st = label
                .clone()
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Right, VPos::Center));
            text(name, (x, grid_bottom + 6), st)?;
        } else {
            let st = label.clone().pos(Pos::new(HPos::Center, VPos::Top));
            text(name, (x, grid_bottom + 6), st)?;
        }
    }
    // The colour scale: bottom is the smallest value, top the largest.
    let (top, bottom) = (l.y0, grid_bottom - 2);
    let span = (bottom - top).max(1);
    for y in top..=bottom {
        let t = (bottom - y) as f64 / span as f64;
        root.draw(&PathElement::new(
            vec![(l.bar_x, y), (l.bar_x + l.bar_w - 1, y)],
            scale_colour(t),
        ))
        .map_err(draw_err)?;
    }
    let frame = RGBColor(120, 120, 120);
    root.draw(&Rectangle::new(
        [(l.bar_x - 1, top - 1), (l.bar_x + l.bar_w, bottom + 1)],
        frame,
    ))
    .map_err(draw_err)?;
    let tick = style(TICK_FONT, BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    let mut label_x = l.bar_x + l.bar_w + 6;
    for v in nice_ticks(l.lo, l.hi, 5) {
        let y = bottom - ((v - l.lo) / (l.hi - l.lo) * span as f64).round() as i32;
        let x = l.bar_x + l.bar_w;
        root.draw(&PathElement::new(vec![(x, y), (x + 4, y)], frame))
            .map_err(draw_err)?;
        let s = fmt_num(v);
        label_x = label_x.max(x + 6 + text_size(root, &s, &tick).0 as i32);
        text(&s, (x + 6, y), tick.clone())?;
    }
    let vl = label
        .clone()
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Center, VPos::Top));
    let vl_text = fit(root, value_label, (bottom - top).max(10) as u32, &vl);
    text(&vl_text, (label_x + 8, (top + bottom) / 2), vl)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Line chart

/// A line chart of `series` on a linear x axis: axes with tick values, `x_label` under the x
/// axis and `y_label` beside the y axis, one colour and marker shape per series, and a legend
/// in a column right of the plot (never over the data). `y_range` fixes the y axis (else it
/// spans the data with a margin); `size` is `(width, height)` in pixels. See the crate docs
/// for the rules on bad input.
///
/// # Errors
/// [`PlotError::Empty`] with no drawable point, [`PlotError::Range`] for a bad `y_range`,
/// [`PlotError::Size`] for a size out of bounds.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    y_range: Option<(f64, f64)>,
    size: (u32, u32),
) -> Result<Raster, PlotError> {
    chart(title, x_label, y_label, series, y_range, size, false)
}

/// [`line_chart`] with a logarithmic x axis (a throughput in images/s); points with `x ≤ 0`
/// are skipped.
///
/// # Errors
/// As [`line_chart`].
pub fn line_chart_log_x(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    y_range: Option<(f64, f64)>,
    size: (u32, u32),
) -> Result<Raster, PlotError> {
    chart(title, x_label, y_label, series, y_range, size, true)
}

/// The drawable runs of a series: maximal stretches of consecutive points that can be drawn.
fn runs(points: &[(f64, f64)], log_x: bool) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(x, y) in points {
        if x.is_finite() && y.is_finite() && (!log_x || x > 0.0) {
            out.last_mut().expect("never empty").push((x, y));
        } else if !out.last().expect("never empty").is_empty() {
            out.push(Vec::new());
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// The part of segment `a`–`b` with `y` in `[lo, hi]`, interpolating in axis space (`log10 x`
/// on a log axis); `None` if none.
fn clip_y(
    a: (f64, f64),
    b: (f64, f64),
    lo: f64,
    hi: f64,
    log_x: bool,
) -> Option<((f64, f64), (f64, f64))> {
    let fx = |x: f64| if log_x { x.log10() } else { x };
    let gx = |u: f64| if log_x { 10f64.powf(u) } else { u };
    let (ua, ub) = (fx(a.0), fx(b.0));
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let dy = b.1 - a.1;
    for (p, q) in [(-dy, a.1 - lo), (dy, hi - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (gx(ua + t * (ub - ua)), a.1 + t * dy);
    Some((at(t0), at(t1)))
}

/// `[lo, hi]` of `vals` widened by `pad` of its span on each side (in log10 space on a log
/// axis); a single value gets a unit span (a factor 10 on a log axis).
fn padded(vals: impl Iterator<Item = f64>, pad: f64, log: bool) -> (f64, f64) {
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if log {
        let (l, h) = (lo.log10(), hi.log10());
        let (l, h) = if l == h { (l - 0.5, h + 0.5) } else { (l, h) };
        let p = (h - l) * pad;
        (10f64.powf(l - p), 10f64.powf(h + p))
    } else {
        let (l, h) = if lo == hi {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        };
        let p = (h - l) * pad;
        (l - p, h + p)
    }
}

fn draw_marker(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    kind: usize,
    at: (i32, i32),
    colour: RGBColor,
) -> Result<(), PlotError> {
    let (x, y) = at;
    let r = 4;
    let res = match kind % 4 {
        0 => area.draw(&Circle::new(at, r, colour.filled())),
        1 => area.draw(&Polygon::new(
            vec![(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)],
            colour.filled(),
        )),
        2 => area.draw(&Rectangle::new(
            [(x - r, y - r), (x + r, y + r)],
            colour.filled(),
        )),
        _ => area
            .draw(&PathElement::new(
                vec![(x - r, y - r), (x + r, y + r)],
                colour.stroke_width(2),
            ))
            .and_then(|_| {
                area.draw(&PathElement::new(
                    vec![(x - r, y + r), (x + r, y - r)],
                    colour.stroke_width(2),
                ))
            }),
    };
    res.map_err(draw_err)
}

/// Legend geometry: the legend's column starts at `x`, one row per series of `row_h` pixels
/// from `y`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LegendLayout {
    x: i32,
    y: i32,
    row_h: i32,
}

/// The legend's labels (shortened to fit) and the width of its column on the right: at most
/// 35 % of the image's width `w`.
fn legend_labels(root: &Area<'_>, w: i32, series: &[Series]) -> (Vec<String>, i32) {
    let label = style(LABEL_FONT, BLACK);
    let max_label = (w * 35 / 100 - 50).max(30) as u32;
    let labels: Vec<String> = series
        .iter()
        .map(|s| fit(root, &s.label, max_label, &label))
        .collect();
    let legend_w = labels
        .iter()
        .map(|s| text_size(root, s, &label).0 as i32)
        .max()
        .unwrap_or(0)
        + 50;
    (labels, legend_w)
}

fn chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    y_range: Option<(f64, f64)>,
    size: (u32, u32),
    log_x: bool,
) -> Result<Raster, PlotError> {
    if let Some((lo, hi)) = y_range
        && !(lo.is_finite() && hi.is_finite() && lo < hi)
    {
        return Err(PlotError::Range { lo, hi });
    }
    let all_runs: Vec<Vec<Vec<(f64, f64)>>> =
        series.iter().map(|s| runs(&s.points, log_x)).collect();
    let drawable = || all_runs.iter().flatten().flatten();
    if drawable().next().is_none() {
        return Err(PlotError::Empty(format!(
            "{} series without a drawable point (finite{})",
            series.len(),
            if log_x { ", x > 0" } else { "" }
        )));
    }
    let (xlo, xhi) = padded(drawable().map(|p| p.0), 0.03, log_x);
    let (ylo, yhi) = y_range.unwrap_or_else(|| padded(drawable().map(|p| p.1), 0.06, false));
    render(size, |root| {
        root.fill(&WHITE).map_err(draw_err)?;
        let w = size.0 as i32;
        let label = style(LABEL_FONT, BLACK);
        let (labels, legend_w) = legend_labels(root, w, series);
        let (main, legend) = root.split_horizontally(w - legend_w);
        let main = if title.is_empty() {
            main
        } else {
            let st = style(TITLE_FONT, BLACK);
            let t = fit(root, title, (w - 2 * MARGIN) as u32, &st);
            main.titled(&t, st).map_err(draw_err)?
        };
        let mut builder = ChartBuilder::on(&main);
        builder
            .margin(MARGIN as u32)
            .margin_right(16)
            .x_label_area_size(52)
            .y_label_area_size(72);
        let colours: Vec<RGBColor> = (0..series.len()).map(|i| PALETTE[i % 10]).collect();
        let shapes: Vec<usize> = (0..series.len()).map(|i| i + i / 10).collect();
        let legend_y = if log_x {
            let mut c = builder
                .build_cartesian_2d((xlo..xhi).log_scale(), ylo..yhi)
                .map_err(draw_err)?;
            plot_series(
                &mut c,
                x_label,
                y_label,
                series,
                &all_runs,
                (ylo, yhi),
                &colours,
                &shapes,
                true,
            )?
        } else {
            let mut c = builder
                .build_cartesian_2d(xlo..xhi, ylo..yhi)
                .map_err(draw_err)?;
            plot_series(
                &mut c,
                x_label,
                y_label,
                series,
                &all_runs,
                (ylo, yhi),
                &colours,
                &shapes,
                false,
            )?
        };
        let ll = LegendLayout {
            x: 8,
            y: legend_y - root.get_base_pixel().1 + 4,
            row_h: 24,
        };
        for (i, (s, text)) in series.iter().zip(&labels).enumerate() {
            let y = ll.y + i as i32 * ll.row_h + ll.row_h / 2;
            if s.style == SeriesStyle::Line {
                legend
                    .draw(&PathElement::new(
                        vec![(ll.x, y), (ll.x + 28, y)],
                        colours[i].stroke_width(2),
                    ))
                    .map_err(draw_err)?;
            }
            draw_marker(&legend, shapes[i], (ll.x + 14, y), colours[i])?;
            legend
                .draw(&Text::new(
                    text.clone(),
                    (ll.x + 38, y),
                    label.clone().pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(draw_err)?;
        }
        Ok(())
    })
}

/// Draws the mesh and the series on `c`; returns the plotting area's top pixel row (absolute).
#[allow(clippy::too_many_arguments)]
fn plot_series<XR>(
    c: &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<XR, RangedCoordf64>>,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    all_runs: &[Vec<Vec<(f64, f64)>>],
    (ylo, yhi): (f64, f64),
    colours: &[RGBColor],
    shapes: &[usize],
    log_x: bool,
) -> Result<i32, PlotError>
where
    XR: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let fmt = |v: &f64| fmt_num(*v);
    c.configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .label_style((FONT, TICK_FONT))
        .axis_desc_style((FONT, LABEL_FONT))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(RGBColor(245, 245, 245))
        .axis_style(RGBColor(90, 90, 90))
        .draw()
        .map_err(draw_err)?;
    let area = c.plotting_area();
    for (i, (s, runs)) in series.iter().zip(all_runs).enumerate() {
        let colour = colours[i];
        if s.style == SeriesStyle::Line {
            for run in runs {
                for pair in run.windows(2) {
                    if let Some((a, b)) = clip_y(pair[0], pair[1], ylo, yhi, log_x) {
                        area.draw(&PathElement::new(vec![a, b], colour.stroke_width(2)))
                            .map_err(draw_err)?;
                    }
                }
            }
        }
        for &p in runs.iter().flatten() {
            if (ylo..=yhi).contains(&p.1) {
                let at = area.map_coordinate(&p);
                let (bx, by) = area.get_base_pixel();
                let strip = area.strip_coord_spec();
                draw_marker(&strip, shapes[i], (at.0 - bx, at.1 - by), colour)?;
            }
        }
    }
    Ok(area.get_base_pixel().1)
}

/// An image with the lines of text printed under it, one cell of a [`captioned_grid`].
#[derive(Debug, Clone, PartialEq)]
pub struct Captioned {
    /// The image (grey or RGB), drawn at its size.
    pub image: Raster,
    /// Lines under it (shortened with `…` when wider than the image).
    pub caption: Vec<String>,
}

/// Height of one caption line, in pixels.
const CAPTION_LINE: u32 = 16;
/// Font size of captions.
const CAPTION_FONT: f64 = 13.0;
/// Pixels between cells and around the grid.
const CELL_GAP: u32 = 8;
/// Height of the title line.
const TITLE_LINE: u32 = 26;

/// A grid of images, each with its caption below (Figure 5 on photos: original, difference,
/// adversarial, each under its class and probability): `rows[r][c]` in row `r`, column `c`,
/// every cell as wide as the widest image, rows as tall as their tallest image plus the most
/// caption lines of the grid, and `title`, if any, above. Grey images are drawn grey.
///
/// # Errors
/// [`PlotError::Empty`] without a cell, [`PlotError::Size`] if the grid would leave
/// `MIN_SIZE..=MAX_SIZE` (a small grid is padded up to `MIN_SIZE`).
pub fn captioned_grid(rows: &[Vec<Captioned>], title: Option<&str>) -> Result<Raster, PlotError> {
    let cells = rows.iter().flatten();
    let cell_w = cells
        .clone()
        .map(|c| c.image.width())
        .max()
        .ok_or_else(|| PlotError::Empty("a captioned grid needs at least one image".into()))?;
    let lines = cells
        .clone()
        .map(|c| c.caption.len() as u32)
        .max()
        .unwrap_or(0);
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let row_h: Vec<u32> = rows
        .iter()
        .map(|r| r.iter().map(|c| c.image.height()).max().unwrap_or(0) + lines * CAPTION_LINE)
        .collect();
    let top = CELL_GAP + if title.is_some() { TITLE_LINE } else { 0 };
    let width = (columns * (cell_w + CELL_GAP) + CELL_GAP).max(MIN_SIZE);
    let height = (top + row_h.iter().map(|h| h + CELL_GAP).sum::<u32>()).max(MIN_SIZE);
    // Characters that fit a cell's width at the caption font (DejaVu Sans averages ~7 px).
    let fits = (cell_w / 7).max(4) as usize;
    render((width, height), |root| {
        if let Some(title) = title {
            let style = (FONT, 16.0).into_font().color(&BLACK);
            root.draw_text(title, &style, (CELL_GAP as i32, (CELL_GAP + 4) as i32))
                .map_err(draw_err)?;
        }
        let text = (FONT, CAPTION_FONT)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        let mut y0 = top;
        for (row, h) in rows.iter().zip(&row_h) {
            let image_h = h - lines * CAPTION_LINE;
            for (c, cell) in row.iter().enumerate() {
                let x0 = CELL_GAP + c as u32 * (cell_w + CELL_GAP);
                let image = &cell.image;
                for y in 0..image.height() {
                    for x in 0..image.width() {
                        let px = image.get(x, y);
                        let colour = match px {
                            [g] => RGBColor(*g, *g, *g),
                            _ => RGBColor(px[0], px[1], px[2]),
                        };
                        root.draw_pixel(((x0 + x) as i32, (y0 + y) as i32), &colour)
                            .map_err(draw_err)?;
                    }
                }
                for (l, line) in cell.caption.iter().enumerate() {
                    let shown = if line.chars().count() > fits {
                        let mut s: String = line.chars().take(fits - 1).collect();
                        s.push('…');
                        s
                    } else {
                        line.clone()
                    };
                    let at = (
                        (x0 + cell_w / 2) as i32,
                        (y0 + image_h + l as u32 * CAPTION_LINE + 2) as i32,
                    );
                    root.draw_text(&shown, &text, at).map_err(draw_err)?;
                }
            }
            y0 += h + CELL_GAP;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests;
