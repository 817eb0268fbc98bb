//! Charts as PNG images, drawn by the program itself (`plotters`, with a font built in, so
//! no system fonts and no browser are needed).

use std::sync::Once;

use plotters::prelude::*;

/// Width and height of a chart, in pixels.
pub const SIZE: (u32, u32) = (640, 280);

const FONT: &str = "cairn-sans";

fn register_font() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        )
        .map_err(|_| "the built-in chart font does not load".to_owned());
    });
    result
}

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its name, in the legend.
    pub name: String,
    /// One value per label.
    pub values: Vec<f64>,
}

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// A line chart of `series` over `labels` (one x position per label) as PNG bytes.
pub fn lines(title: &str, labels: &[String], series: &[Series]) -> Result<Vec<u8>, String> {
    register_font()?;
    let (w, h) = SIZE;
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        let max = series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .fold(0.0f64, f64::max);
        let top = if max <= 0.0 { 1.0 } else { max * 1.15 };
        let n = labels.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(10)
            // Room for the last x label, centred on the right edge.
            .margin_right(28)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..(n as f64 - 1.0).max(1.0), 0f64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style((FONT, 12))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, s) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(
                    s.values.iter().enumerate().map(|(x, y)| (x as f64, *y)),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    encode_png(&rgb, w, h)
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png_with_text_and_lines() {
        let labels: Vec<String> = (1..=8).map(|i| format!("01-{i:02}")).collect();
        let png = lines(
            "Learners per week",
            &labels,
            &[
                Series {
                    name: "active".into(),
                    values: vec![3.0, 5.0, 8.0, 2.0, 0.0, 9.0, 4.0, 6.0],
                },
                Series {
                    name: "watched a video".into(),
                    values: vec![1.0; 8],
                },
            ],
        )
        .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // Decoded, the image is not blank: the lines and labels drew pixels of several colours.
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), SIZE);
        let colors: std::collections::BTreeSet<&[u8]> =
            buf[..info.buffer_size()].chunks(3).collect();
        assert!(colors.len() > 20, "{} colours", colors.len());
        assert!(
            buf.chunks(3).any(|p| p == [31, 119, 180]),
            "the first series' colour"
        );
        // An empty chart draws too.
        lines("nothing", &[], &[]).unwrap();
    }
}
