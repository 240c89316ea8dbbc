import Foundation

/// Draws a ``Scene`` into RGB pixels with anti-aliasing by coverage: each pixel's share of a line of width w is
/// `clamp(w/2 + 1/2 − d, 0, 1)` for a pixel centre at distance d from the line's centre, which gives round caps and
/// joins; every shape is accumulated into a coverage mask (the maximum over its parts, so joins and overlapping
/// glyph strokes are not drawn twice) and then blended once with its colour and opacity.
public struct Rasterizer {
    /// Size in pixels.
    public let width: Int, height: Int
    /// Pixels per CSS pixel (2 for a crisp figure on high-density screens and in print).
    public let scale: Double
    /// `[height, width, 3]` sRGB samples in 0...1.
    private var pixels: [Float]
    /// `[height, width]` coverage of the shape being drawn.
    private var mask: [Float]
    private var touched: [Int] = []

    /// A canvas for `scene` at `scale` pixels per CSS pixel, filled with the scene's background.
    public init(scene: Scene, scale: Double) {
        self.scale = scale
        width = max(1, Int((scene.width * scale).rounded()))
        height = max(1, Int((scene.height * scale).rounded()))
        let background = [Float(scene.background.red), Float(scene.background.green), Float(scene.background.blue)].map { $0 / 255 }
        pixels = [Float](repeating: 0, count: width * height * 3)
        for index in 0..<(width * height) {
            pixels[3 * index] = background[0]
            pixels[3 * index + 1] = background[1]
            pixels[3 * index + 2] = background[2]
        }
        mask = [Float](repeating: 0, count: width * height)
    }

    /// Draws `scene` into a new canvas and returns its 8-bit RGB samples `[height, width, 3]`.
    public static func render(_ scene: Scene, scale: Double) -> (pixels: [UInt8], width: Int, height: Int) {
        var canvas = Rasterizer(scene: scene, scale: scale)
        for shape in scene.shapes { canvas.draw(shape) }
        return (canvas.rgb, canvas.width, canvas.height)
    }

    /// The canvas as 8-bit RGB samples `[height, width, 3]`.
    public var rgb: [UInt8] { pixels.map { UInt8(min(max($0, 0), 1) * 255 + 0.5) } }

    /// Draws one shape.
    public mutating func draw(_ shape: Shape) {
        switch shape {
        case let .polyline(points, color, width, opacity, dash, clip, _):
            let device = points.map { Point($0.x * scale, $0.y * scale) }
            let pieces = dash.isEmpty ? [device] : Rasterizer.dashed(device, pattern: dash.map { $0 * scale })
            for piece in pieces { stroke(piece, width: width * scale, clip: clip) }
            blend(color, opacity: opacity)
        case let .rectangle(rectangle, fill, opacity, _):
            fillRectangle(rectangle)
            blend(fill, opacity: opacity)
        case let .circle(center, radius, fill, opacity, clip, _):
            fillCircle(Point(center.x * scale, center.y * scale), radius: radius * scale, clip: clip)
            blend(fill, opacity: opacity)
        case let .text(string, position, size, color, anchor, rotation, bold, _):
            text(string, at: position, size: size, anchor: anchor, rotation: rotation, bold: bold)
            blend(color, opacity: 1)
        }
    }

    // MARK: - Coverage

    /// The pixel bounds (`x0..<x1`, `y0..<y1`) of a device-space box, cut to the canvas and the clip.
    private func bounds(minX: Double, minY: Double, maxX: Double, maxY: Double, clip: Rectangle?) -> (Int, Int, Int, Int) {
        var (lowX, lowY, highX, highY) = (minX, minY, maxX, maxY)
        if let clip {
            (lowX, lowY) = (max(lowX, clip.x * scale), max(lowY, clip.y * scale))
            (highX, highY) = (min(highX, clip.maxX * scale), min(highY, clip.maxY * scale))
        }
        let x0 = max(0, Int(lowX.rounded(.down))), y0 = max(0, Int(lowY.rounded(.down)))
        let x1 = min(width, Int(highX.rounded(.up)) + 1), y1 = min(height, Int(highY.rounded(.up)) + 1)
        return (x0, min(x1, width), y0, min(y1, height))
    }

    private mutating func cover(_ index: Int, _ value: Float) {
        guard value > 0 else { return }
        if mask[index] == 0 { touched.append(index) }
        if value > mask[index] { mask[index] = min(1, value) }
    }

    /// Adds a polyline of width `lineWidth` (device pixels) to the mask.
    mutating func stroke(_ points: [Point], width lineWidth: Double, clip: Rectangle?) {
        guard let first = points.first else { return }
        let half = max(lineWidth, 1) / 2
        // Lines thinner than a pixel are drawn one pixel wide and proportionally fainter.
        let strength = Float(min(1, lineWidth))
        let segments = points.count == 1 ? [(first, first)] : Array(zip(points, points.dropFirst()))
        for (a, b) in segments {
            guard a.x.isFinite, a.y.isFinite, b.x.isFinite, b.y.isFinite else { continue }
            let (x0, x1, y0, y1) = bounds(minX: min(a.x, b.x) - half - 1, minY: min(a.y, b.y) - half - 1,
                                          maxX: max(a.x, b.x) + half + 1, maxY: max(a.y, b.y) + half + 1, clip: clip)
            guard x0 < x1, y0 < y1 else { continue }
            let dx = b.x - a.x, dy = b.y - a.y
            let lengthSquared = dx * dx + dy * dy
            for y in y0..<y1 {
                let py = Double(y) + 0.5
                for x in x0..<x1 {
                    let px = Double(x) + 0.5
                    var t = lengthSquared > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / lengthSquared : 0
                    t = min(1, max(0, t))
                    let ex = px - (a.x + t * dx), ey = py - (a.y + t * dy)
                    let distance = (ex * ex + ey * ey).squareRoot()
                    let coverage = Float(min(1, max(0, half + 0.5 - distance)))
                    if coverage > 0 { cover(y * width + x, coverage * strength) }
                }
            }
        }
    }

    /// Adds a filled circle to the mask.
    mutating func fillCircle(_ center: Point, radius: Double, clip: Rectangle?) {
        let (x0, x1, y0, y1) = bounds(minX: center.x - radius - 1, minY: center.y - radius - 1,
                                      maxX: center.x + radius + 1, maxY: center.y + radius + 1, clip: clip)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            for x in x0..<x1 {
                let dx = Double(x) + 0.5 - center.x, dy = Double(y) + 0.5 - center.y
                cover(y * width + x, Float(min(1, max(0, radius + 0.5 - (dx * dx + dy * dy).squareRoot()))))
            }
        }
    }

    /// Adds a filled rectangle (CSS pixels) to the mask, with fractional coverage at its edges.
    mutating func fillRectangle(_ rectangle: Rectangle) {
        let (left, top) = (rectangle.x * scale, rectangle.y * scale)
        let (right, bottom) = (rectangle.maxX * scale, rectangle.maxY * scale)
        let (x0, x1, y0, y1) = bounds(minX: left, minY: top, maxX: right, maxY: bottom, clip: nil)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            let rowCoverage = max(0, min(Double(y + 1), bottom) - max(Double(y), top))
            for x in x0..<x1 {
                let columnCoverage = max(0, min(Double(x + 1), right) - max(Double(x), left))
                cover(y * width + x, Float(rowCoverage * columnCoverage))
            }
        }
    }

    /// Adds `string` in the stroke font to the mask: baseline through `position` (CSS pixels), rotated by
    /// `rotation` degrees clockwise about it.
    mutating func text(_ string: String, at position: Point, size: Double, anchor: TextAnchor, rotation: Double, bold: Bool) {
        let unit = StrokeFont.unitsToEm * size * scale
        let total = StrokeFont.width(of: string, size: size, bold: bold) * scale
        var cursor = anchor == .start ? 0 : anchor == .middle ? -total / 2 : -total
        let angle = rotation * .pi / 180
        let (cosine, sine) = (cos(angle), sin(angle))
        let origin = Point(position.x * scale, position.y * scale)
        let strokeWidth = size * scale * (bold ? 0.125 : 0.085)
        for character in string {
            let glyph = StrokeFont.glyph(for: character)
            for stroke in glyph.strokes {
                let points = stroke.map { point -> Point in
                    let (x, y) = (cursor + point.x * unit, -point.y * unit)  // y down
                    return Point(origin.x + x * cosine - y * sine, origin.y + x * sine + y * cosine)
                }
                self.stroke(points, width: strokeWidth, clip: nil)
            }
            cursor += (glyph.advance + (bold ? StrokeFont.boldTracking : 0)) * unit
        }
    }

    /// Blends the mask into the pixels with `color` at `opacity`, and clears it.
    mutating func blend(_ color: Color, opacity: Double) {
        let rgb = [Float(color.red) / 255, Float(color.green) / 255, Float(color.blue) / 255]
        let alpha = Float(min(1, max(0, opacity)))
        for index in touched {
            let a = mask[index] * alpha
            for channel in 0..<3 {
                let sample = 3 * index + channel
                pixels[sample] += (rgb[channel] - pixels[sample]) * a
            }
            mask[index] = 0
        }
        touched.removeAll(keepingCapacity: true)
    }

    /// The "on" pieces of `points` under a dash `pattern` (on, off, on, … lengths along the line).
    static func dashed(_ points: [Point], pattern: [Double]) -> [[Point]] {
        guard points.count > 1, pattern.contains(where: { $0 > 0 }), pattern.allSatisfy({ $0 >= 0 && $0.isFinite }) else { return [points] }
        var pieces: [[Point]] = []
        var current: [Point] = [points[0]]
        var patternIndex = 0, remaining = pattern[0], on = true
        for (a, b) in zip(points, points.dropFirst()) {
            let length = ((b.x - a.x) * (b.x - a.x) + (b.y - a.y) * (b.y - a.y)).squareRoot()
            var travelled = 0.0
            while length - travelled > remaining {
                travelled += remaining
                let t = travelled / length
                let split = Point(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t)
                if on { current.append(split); pieces.append(current) } else { current = [split] }
                on.toggle()
                patternIndex = (patternIndex + 1) % pattern.count
                remaining = pattern[patternIndex]
            }
            remaining -= length - travelled
            if on { current.append(b) }
        }
        if on && current.count > 1 { pieces.append(current) }
        return pieces
    }
}
