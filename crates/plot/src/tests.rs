use super::*;

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn layout_of(
    title: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<f64>],
    size: (u32, u32),
) -> HeatLayout {
    let mut out = None;
    render(size, |root| {
        out = Some(heat_layout(root, size, title, rows, cols, values)?);
        Ok(())
    })
    .unwrap();
    out.unwrap()
}

fn px(r: &Raster, x: i32, y: i32) -> RGBColor {
    let p = r.get(x as u32, y as u32);
    RGBColor(p[0], p[1], p[2])
}

/// Pixels of `r` in `[x0, x1) × [y0, y1)` for which `pred` holds.
fn count(
    r: &Raster,
    (x0, x1): (i32, i32),
    (y0, y1): (i32, i32),
    pred: impl Fn(RGBColor) -> bool,
) -> usize {
    let mut n = 0;
    for y in y0.max(0)..y1.min(r.height() as i32) {
        for x in x0.max(0)..x1.min(r.width() as i32) {
            n += usize::from(pred(px(r, x, y)));
        }
    }
    n
}

fn is_white(c: RGBColor) -> bool {
    c == WHITE
}

const SIZE: (u32, u32) = (640, 420);

fn sample() -> (Vec<String>, Vec<String>, Vec<Vec<f64>>) {
    (
        names("row ", 2),
        names("col ", 3),
        vec![vec![10.0, 50.0, 90.0], vec![30.0, f64::NAN, 70.0]],
    )
}

#[test]
fn heatmap_has_the_requested_size_and_encodes_as_rgb_png() {
    let (rows, cols, values) = sample();
    let img = heatmap("t", &rows, &cols, &values, "error %", SIZE).unwrap();
    assert_eq!((img.width(), img.height(), img.channels()), (640, 420, 3));
    let png = img.encode_png();
    assert_eq!(&png[12..16], b"IHDR");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 640);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 420);
    assert_eq!(png[25], 2, "colour type RGB");
}

#[test]
fn cell_colours_follow_the_scale_and_the_bar_runs_from_min_to_max() {
    let (rows, cols, values) = sample();
    let img = heatmap("t", &rows, &cols, &values, "error %", SIZE).unwrap();
    let l = layout_of("t", &rows, &cols, &values, SIZE);
    assert_eq!(
        (l.lo, l.hi),
        (10.0, 90.0),
        "the scale spans the finite values"
    );
    // A pixel near a cell's top-left corner, away from its printed value.
    let corner = |r: i32, c: i32| px(&img, l.x0 + c * l.cell_w + 2, l.y0 + r * l.cell_h + 2);
    assert_eq!(
        corner(0, 2),
        scale_colour(1.0),
        "max (90) has the top colour"
    );
    assert_eq!(
        corner(0, 0),
        scale_colour(0.0),
        "min (10) has the bottom colour"
    );
    assert_eq!(corner(0, 1), scale_colour(0.5), "50 is half way");
    assert_eq!(
        corner(1, 1),
        RGBColor(235, 235, 235),
        "NaN is the grey missing cell"
    );
    let grid_bottom = l.y0 + l.cell_h * 2;
    let bar_mid = l.bar_x + l.bar_w / 2;
    assert_eq!(px(&img, bar_mid, l.y0), scale_colour(1.0));
    assert_eq!(px(&img, bar_mid, grid_bottom - 2), scale_colour(0.0));
    assert_ne!(scale_colour(0.0), scale_colour(1.0));
}

#[test]
fn values_are_printed_in_a_contrasting_colour() {
    let (rows, cols, values) = sample();
    let img = heatmap("t", &rows, &cols, &values, "error %", SIZE).unwrap();
    let l = layout_of("t", &rows, &cols, &values, SIZE);
    assert!(l.value_font.is_some());
    let middle = |r: i32, c: i32| {
        let (x, y) = (l.x0 + c * l.cell_w, l.y0 + r * l.cell_h);
        (
            (x + l.cell_w / 4, x + 3 * l.cell_w / 4),
            (y + l.cell_h / 4, y + 3 * l.cell_h / 4),
        )
    };
    // Dark red cell (max): light text; pale yellow cell (min): dark text.
    let (xs, ys) = middle(0, 2);
    assert!(
        count(&img, xs, ys, |c| c.1 > 200) > 10,
        "white digits on dark red"
    );
    let (xs, ys) = middle(0, 0);
    assert!(
        count(&img, xs, ys, |c| c.0 < 80) > 10,
        "black digits on pale yellow"
    );
    // The missing cell shows a dash.
    let (xs, ys) = middle(1, 1);
    assert!(
        count(&img, xs, ys, |c| c.0 < 80) > 3,
        "– in the missing cell"
    );
    assert_eq!(contrast_text(scale_colour(1.0)), WHITE);
    assert_eq!(contrast_text(scale_colour(0.0)), BLACK);
}

#[test]
fn labels_title_and_scale_ticks_are_drawn() {
    let (rows, cols, values) = sample();
    let img = heatmap("A title", &rows, &cols, &values, "error %", SIZE).unwrap();
    let l = layout_of("A title", &rows, &cols, &values, SIZE);
    let grid_bottom = l.y0 + l.cell_h * 2;
    let dark = |c: RGBColor| c.0 < 128 && c.1 < 128 && c.2 < 128;
    assert!(
        count(&img, (0, l.x0 - 2), (l.y0, grid_bottom), dark) > 30,
        "row labels"
    );
    let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
    assert!(
        count(&img, (l.x0, l.bar_x), (grid_bottom + 2, h), dark) > 30,
        "column labels"
    );
    assert!(count(&img, (0, w), (0, l.y0 - 2), dark) > 30, "title");
    assert!(
        count(&img, (l.bar_x + l.bar_w + 5, w), (l.y0, grid_bottom), dark) > 30,
        "ticks"
    );
    // Empty margins stay white.
    assert_eq!(count(&img, (0, w), (0, 4), |c| !is_white(c)), 0);
}

#[test]
fn long_column_names_are_rotated_and_very_long_names_shortened() {
    let rows = vec![
        "adversarial for fc-100-100-10".to_string(),
        "gaussian".into(),
    ];
    let cols = vec![
        "fc-100-100-10".to_string(),
        "fc-123456789-123456789-123456789-123456789-123456789-123456789-end".into(),
    ];
    let values = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
    let l = layout_of("", &rows, &cols, &values, (400, 300));
    assert!(l.cols_rotated);
    assert_eq!(l.cols[0], "fc-100-100-10");
    assert!(
        l.cols[1].contains('…') && l.cols[1].ends_with("end"),
        "{}",
        l.cols[1]
    );
    assert!(heatmap("", &rows, &cols, &values, "v", (400, 300)).is_ok());
}

#[test]
fn mismatched_empty_and_oversized_inputs_are_errors() {
    let (rows, cols, values) = sample();
    assert_eq!(
        heatmap("", &rows, &cols, &values[..1], "", SIZE),
        Err(PlotError::Shape {
            what: "rows of values (one per row label)".into(),
            expected: 2,
            found: 1
        })
    );
    let ragged = vec![vec![1.0, 2.0, 3.0], vec![1.0, 2.0]];
    assert!(matches!(
        heatmap("", &rows, &cols, &ragged, "", SIZE),
        Err(PlotError::Shape {
            expected: 3,
            found: 2,
            ..
        })
    ));
    assert!(matches!(
        heatmap("", &[], &cols, &[], "", SIZE),
        Err(PlotError::Empty(_))
    ));
    assert!(matches!(
        heatmap("", &rows, &cols, &values, "", (50, 400)),
        Err(PlotError::Size { .. })
    ));
    let many = names("c", 300);
    assert!(matches!(
        heatmap("", &rows, &many, &vec![vec![0.0; 300]; 2], "", SIZE),
        Err(PlotError::Size { .. })
    ));
}

#[test]
fn all_missing_or_constant_values_still_draw() {
    let (rows, cols, _) = sample();
    let nan = vec![vec![f64::NAN, f64::INFINITY, f64::NAN]; 2];
    let l = layout_of("", &rows, &cols, &nan, SIZE);
    assert_eq!((l.lo, l.hi), (0.0, 1.0));
    assert!(heatmap("", &rows, &cols, &nan, "", SIZE).is_ok());
    let flat = vec![vec![5.0; 3]; 2];
    let l = layout_of("", &rows, &cols, &flat, SIZE);
    assert_eq!((l.lo, l.hi), (4.5, 5.5));
    let img = heatmap("", &rows, &cols, &flat, "", SIZE).unwrap();
    assert_eq!(px(&img, l.x0 + 2, l.y0 + 2), scale_colour(0.5));
}

#[test]
fn numbers_and_ticks_are_round() {
    assert_eq!(
        nice_ticks(0.0, 100.0, 5),
        vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    );
    assert_eq!(nice_ticks(12.0, 31.0, 5), vec![15.0, 20.0, 25.0, 30.0]);
    assert_eq!(fmt_num(0.30000000000000004), "0.3");
    assert_eq!(fmt_num(20.0), "20");
    assert_eq!(fmt_num(250000.0), "250000");
    assert_eq!(fmt_num(2.5e6), "2.5e6");
    assert_eq!(fmt_num(0.0), "0");
}

fn curves() -> Vec<Series> {
    vec![
        Series {
            label: "FGSM".into(),
            points: vec![(0.0, 98.0), (0.1, 60.0), (0.2, 20.0), (0.3, 5.0)],
            style: SeriesStyle::Line,
        },
        Series {
            label: "best of all".into(),
            points: vec![(0.0, 97.0), (0.1, f64::NAN), (0.2, 10.0), (0.3, 1.0)],
            style: SeriesStyle::Markers,
        },
    ]
}

#[test]
fn line_chart_draws_each_series_in_its_colour_with_the_legend_beside_the_plot() {
    let series = curves();
    let img = line_chart("t", "ε", "accuracy %", &series, Some((0.0, 100.0)), SIZE).unwrap();
    assert_eq!((img.width(), img.height()), SIZE);
    let mut legend_w = 0;
    render(SIZE, |root| {
        legend_w = legend_labels(root, SIZE.0 as i32, &series).1;
        Ok(())
    })
    .unwrap();
    let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
    let split = w - legend_w;
    for colour in [PALETTE[0], PALETTE[1]] {
        assert!(
            count(&img, (0, split), (0, h), |c| c == colour) > 50,
            "data in {colour:?}"
        );
        assert!(
            count(&img, (split, w), (0, h), |c| c == colour) > 10,
            "legend in {colour:?}"
        );
    }
    let dark = |c: RGBColor| c.0 < 100 && c.1 < 100 && c.2 < 100;
    assert!(
        count(&img, (split + 30, w), (0, h), dark) > 30,
        "legend text"
    );
    assert!(
        count(&img, (0, 40), (0, h), dark) > 30,
        "y axis label and ticks"
    );
    assert!(
        count(&img, (0, split), (h - 50, h), dark) > 30,
        "x axis label and ticks"
    );
}

#[test]
fn line_chart_clips_to_the_y_range_and_skips_bad_points() {
    let series = vec![Series {
        label: "overshoot".into(),
        points: vec![(0.0, 0.0), (1.0, 1000.0), (2.0, 0.5)],
        style: SeriesStyle::Line,
    }];
    let img = line_chart("", "x", "y", &series, Some((0.0, 1.0)), SIZE).unwrap();
    // Clipped at the plot's top: nothing of the series' colour in the top margin.
    assert_eq!(count(&img, (0, 640), (0, 8), |c| c == PALETTE[0]), 0);
    assert!(count(&img, (0, 640), (0, 420), |c| c == PALETTE[0]) > 20);

    let nan = vec![Series {
        label: "nan".into(),
        points: vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)],
        style: SeriesStyle::Line,
    }];
    assert!(matches!(
        line_chart("", "x", "y", &nan, None, SIZE),
        Err(PlotError::Empty(_))
    ));
    assert!(matches!(
        line_chart("", "x", "y", &[], None, SIZE),
        Err(PlotError::Empty(_))
    ));
    assert_eq!(
        line_chart("", "x", "y", &curves(), Some((1.0, 1.0)), SIZE),
        Err(PlotError::Range { lo: 1.0, hi: 1.0 })
    );
    assert!(matches!(
        line_chart("", "x", "y", &curves(), Some((0.0, f64::NAN)), SIZE),
        Err(PlotError::Range { .. })
    ));
    assert!(matches!(
        line_chart("", "x", "y", &curves(), None, (10_000, 400)),
        Err(PlotError::Size { .. })
    ));
}

#[test]
fn runs_break_at_bad_points_and_clip_keeps_the_inside() {
    let r = runs(
        &[
            (0.0, 1.0),
            (1.0, f64::NAN),
            (2.0, 3.0),
            (3.0, 4.0),
            (-1.0, 5.0),
        ],
        true,
    );
    assert_eq!(
        r,
        vec![vec![(2.0, 3.0), (3.0, 4.0)]],
        "log axis: x ≤ 0 dropped too"
    );
    let r = runs(&[(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)], false);
    assert_eq!(r, vec![vec![(0.0, 1.0)], vec![(2.0, 3.0)]]);
    assert_eq!(
        clip_y((0.0, 0.0), (2.0, 2.0), 0.0, 1.0, false),
        Some(((0.0, 0.0), (1.0, 1.0)))
    );
    assert_eq!(clip_y((0.0, 2.0), (1.0, 3.0), 0.0, 1.0, false), None);
    let ((x0, _), (x1, y1)) = clip_y((1.0, 0.0), (100.0, 2.0), 0.0, 1.0, true).unwrap();
    assert_eq!(x0, 1.0);
    assert!(
        (x1 - 10.0).abs() < 1e-9 && y1 == 1.0,
        "half way in log10 x is 10"
    );
}

#[test]
fn log_x_chart_draws_and_refuses_only_non_positive_x() {
    let frontier = vec![Series {
        label: "attacks".into(),
        points: vec![(0.0, 0.1), (50.0, 0.08), (2000.0, 0.05), (1e5, 0.03)],
        style: SeriesStyle::Markers,
    }];
    let img = line_chart_log_x("", "images/s", "distortion", &frontier, None, SIZE).unwrap();
    assert!(count(&img, (0, 640), (0, 420), |c| c == PALETTE[0]) > 30);
    let bad = vec![Series {
        label: "x ≤ 0".into(),
        points: vec![(0.0, 1.0), (-3.0, 2.0)],
        style: SeriesStyle::Line,
    }];
    assert!(matches!(
        line_chart_log_x("", "x", "y", &bad, None, SIZE),
        Err(PlotError::Empty(_))
    ));
}

#[test]
fn captioned_grid_places_every_image_at_its_cell_with_text_below() {
    let red = Raster::from_pixels(30, 20, 3, [200u8, 10, 10].repeat(600)).unwrap();
    let grey = Raster::filled(40, 25, 1, 90);
    let cell = |image: &Raster, text: &str| Captioned {
        image: image.clone(),
        caption: vec![text.into(), "p = 0.97".into()],
    };
    let rows = vec![
        vec![cell(&red, "ostrich"), cell(&grey, "difference ×10")],
        vec![cell(&grey, "a very long class name that cannot fit")],
    ];
    let out = captioned_grid(&rows, Some("Figure 5")).unwrap();
    // Two columns of the widest image (40) with gaps; rows of the tallest image plus two
    // caption lines, under the title; padded up to the smallest size.
    let width = (2 * (40 + CELL_GAP) + CELL_GAP).max(MIN_SIZE);
    let top = CELL_GAP + TITLE_LINE;
    let row_h = |image_h: u32| image_h + 2 * CAPTION_LINE;
    let height = top + row_h(25) + CELL_GAP + row_h(25) + CELL_GAP;
    assert_eq!((out.width(), out.height()), (width, height.max(MIN_SIZE)));
    let at = |x: u32, y: u32| out.get(x, y).to_vec();
    // Every pixel of the first image, and the grey one beside it, drawn as given.
    for y in 0..20 {
        for x in 0..30 {
            assert_eq!(at(CELL_GAP + x, top + y), [200, 10, 10]);
        }
    }
    assert_eq!(at(2 * CELL_GAP + 40 + 39, top + 24), [90, 90, 90]);
    let second_row = top + row_h(25) + CELL_GAP;
    assert_eq!(at(CELL_GAP, second_row), [90, 90, 90]);
    // Text below the first image: dark pixels in its caption band, none in the gap above.
    let dark_in = |x0: u32, y0: u32, w: u32, h: u32| {
        (y0..y0 + h)
            .flat_map(|y| (x0..x0 + w).map(move |x| (x, y)))
            .filter(|&(x, y)| at(x, y).iter().all(|&v| v < 100))
            .count()
    };
    assert!(dark_in(CELL_GAP, top + 25, 40, 2 * CAPTION_LINE) > 20);
    assert_eq!(dark_in(CELL_GAP, top + 20, 30, 5), 0);
    assert!(matches!(
        captioned_grid(&[], None),
        Err(PlotError::Empty(_))
    ));
}
