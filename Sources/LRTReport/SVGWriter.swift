import Foundation

/// Writes a ``Scene`` as SVG 1.1: lines as `<path>`, text as `<text>` (selectable, searchable), each shape with
/// its role as `class`. The file starts with the comment ``marker``, by which lrt recognizes its own output.
public enum SVGWriter {
    /// The comment that marks an SVG written by lrt.
    public static let marker = "<!-- Software: lrt plot -->"

    /// The SVG document for `scene`.
    public static func document(_ scene: Scene) -> String {
        var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\(marker)\n"
        text += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(number(scene.width))\" height=\"\(number(scene.height))\" "
        text += "viewBox=\"0 0 \(number(scene.width)) \(number(scene.height))\" "
        text += "font-family=\"Helvetica, Arial, 'DejaVu Sans', sans-serif\">\n"
        if !scene.title.isEmpty { text += "<title>\(escaped(scene.title))</title>\n" }
        var clips: [Rectangle] = []
        for shape in scene.shapes {
            switch shape {
            case .polyline(_, _, _, _, _, let clip?, _), .circle(_, _, _, _, let clip?, _):
                if !clips.contains(clip) { clips.append(clip) }
            default: break
            }
        }
        if !clips.isEmpty {
            text += "<defs>\n"
            for (index, clip) in clips.enumerated() {
                text += "<clipPath id=\"plot-area-\(index + 1)\"><rect x=\"\(number(clip.x))\" y=\"\(number(clip.y))\" width=\"\(number(clip.width))\" height=\"\(number(clip.height))\"/></clipPath>\n"
            }
            text += "</defs>\n"
        }
        text += "<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"\(scene.background.hexString)\"/>\n"
        func clipAttribute(_ clip: Rectangle?) -> String {
            guard let clip, let index = clips.firstIndex(of: clip) else { return "" }
            return " clip-path=\"url(#plot-area-\(index + 1))\""
        }
        for shape in scene.shapes {
            switch shape {
            case let .polyline(points, color, width, opacity, dash, clip, role):
                guard let first = points.first else { continue }
                var path = "M\(number(first.x)) \(number(first.y))"
                for point in points.dropFirst() { path += "L\(number(point.x)) \(number(point.y))" }
                if points.count == 1 { path += "h0.01" }
                text += "<path class=\"\(role)\" d=\"\(path)\" fill=\"none\" stroke=\"\(color.hexString)\" stroke-width=\"\(number(width))\""
                text += " stroke-linejoin=\"round\" stroke-linecap=\"\(dash.isEmpty ? "round" : "butt")\""
                if opacity < 1 { text += " stroke-opacity=\"\(number(opacity))\"" }
                if !dash.isEmpty { text += " stroke-dasharray=\"\(dash.map(number).joined(separator: " "))\"" }
                text += clipAttribute(clip) + "/>\n"
            case let .rectangle(rectangle, fill, opacity, role):
                text += "<rect class=\"\(role)\" x=\"\(number(rectangle.x))\" y=\"\(number(rectangle.y))\" width=\"\(number(rectangle.width))\" height=\"\(number(rectangle.height))\" fill=\"\(fill.hexString)\""
                if opacity < 1 { text += " fill-opacity=\"\(number(opacity))\"" }
                text += "/>\n"
            case let .circle(center, radius, fill, opacity, clip, role):
                text += "<circle class=\"\(role)\" cx=\"\(number(center.x))\" cy=\"\(number(center.y))\" r=\"\(number(radius))\" fill=\"\(fill.hexString)\""
                if opacity < 1 { text += " fill-opacity=\"\(number(opacity))\"" }
                text += clipAttribute(clip) + "/>\n"
            case let .text(string, position, size, color, anchor, rotation, bold, role):
                text += "<text class=\"\(role)\" x=\"\(number(position.x))\" y=\"\(number(position.y))\" font-size=\"\(number(size))\" fill=\"\(color.hexString)\""
                if anchor != .start { text += " text-anchor=\"\(anchor.rawValue)\"" }
                if bold { text += " font-weight=\"bold\"" }
                if rotation != 0 { text += " transform=\"rotate(\(number(rotation)) \(number(position.x)) \(number(position.y)))\"" }
                text += ">\(escaped(string))</text>\n"
            }
        }
        text += "</svg>\n"
        return text
    }

    /// Whether `bytes` (the start of a file) are an SVG lrt wrote.
    public static func isLRTOutput(_ bytes: [UInt8]) -> Bool {
        let head = String(decoding: bytes.prefix(512), as: UTF8.self)
        return head.hasPrefix("<?xml") && head.contains(marker)
    }

    /// A coordinate with at most two decimals and no trailing zeros.
    static func number(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        var text = String(format: "%.2f", rounded)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }

    /// `text` with XML's special characters escaped.
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default:
                // Control characters are not allowed in XML 1.0.
                if let ascii = character.asciiValue, ascii < 0x20, ascii != 0x09 { result += "\u{FFFD}" } else { result.append(character) }
            }
        }
        return result
    }
}
