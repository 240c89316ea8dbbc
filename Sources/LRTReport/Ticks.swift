import Foundation

/// How data values map onto an axis.
public enum AxisScale: Sendable, Equatable {
    /// Equal distances for equal differences.
    case linear
    /// Equal distances for equal ratios (base 10); values ≤ 0 and non-finite values are left out.
    case logarithmic

    /// Whether `value` can be drawn on this scale.
    public func accepts(_ value: Double) -> Bool {
        self == .linear ? value.isFinite : value.isFinite && value > 0
    }

    /// The value in the axis's own units (itself, or its base-10 logarithm).
    func transform(_ value: Double) -> Double { self == .linear ? value : log10(value) }
}

/// An axis's range and tick marks, from the data it shows.
public struct AxisTicks: Sendable, Equatable {
    /// The ends of the axis, in data units (the data range widened to whole ticks, or padded a little).
    public var lower: Double
    public var upper: Double
    /// The tick positions, in data units, ascending, all within `lower...upper`.
    public var values: [Double]
    /// The tick labels, one per value.
    public var labels: [String]

    /// "Nice" ticks for a linear axis over `minimum...maximum`: steps of 1, 2 or 5 × 10^k, about `target` of them;
    /// the axis ends are widened to the neighbouring ticks. An empty or flat range gets a range around its value.
    public static func linear(minimum: Double, maximum: Double, target: Int = 6) -> AxisTicks {
        var (low, high) = (minimum, maximum)
        if !low.isFinite || !high.isFinite { (low, high) = (0, 1) }
        if low > high { swap(&low, &high) }
        if high - low <= max(abs(high), abs(low)) * 1e-12 {  // one value: a range around it
            let half = low == 0 ? 1 : abs(low) * 0.1
            (low, high) = (low - half, high + half)
        }
        let step = niceStep((high - low) / Double(max(1, target - 1)))
        let first = (low / step).rounded(.down), last = (high / step).rounded(.up)
        let count = Int(last - first) + 1
        let values = (0..<count).map { cleaned((first + Double($0)) * step, step: step) }
        return AxisTicks(lower: values.first!, upper: values.last!, values: values,
                         labels: values.map { linearLabel($0, step: step) })
    }

    /// Ticks for a base-10 logarithmic axis over the positive `minimum...maximum`: at powers of ten (every
    /// second, third, … power when the range spans many decades), or at 1, 2 and 5 × 10^k when it spans
    /// at most about two decades (2.3). The ends are the enclosing ticks.
    public static func logarithmic(minimum: Double, maximum: Double, target: Int = 6) -> AxisTicks {
        var (low, high) = (minimum, maximum)
        if !(low > 0) || !low.isFinite || !(high > 0) || !high.isFinite { (low, high) = (1, 10) }
        if low > high { swap(&low, &high) }
        if high / low < 1.0001 { (low, high) = (low / 2, high * 2) }
        let lowExponent = log10(low).rounded(.down), highExponent = log10(high).rounded(.up)
        let decades = highExponent - lowExponent
        var values: [Double]
        if log10(high / low) <= 2.3 {
            // 1, 2, 5 × 10^k, trimmed to the enclosing ones.
            var candidates: [Double] = []
            var exponent = lowExponent
            while exponent <= highExponent {
                for mantissa in [1.0, 2, 5] { candidates.append(cleanedPower(mantissa, exponent)) }
                exponent += 1
            }
            let below = candidates.last { $0 <= low * (1 + 1e-9) } ?? candidates.first!
            let above = candidates.first { $0 >= high * (1 - 1e-9) } ?? candidates.last!
            values = candidates.filter { $0 >= below && $0 <= above }
            if values.count > target + 2 { values = values.filter { mantissa(of: $0) != 2 } }
        } else {
            let stride = max(1.0, (decades / Double(max(1, target))).rounded(.up))
            let first = (lowExponent / stride).rounded(.down) * stride
            let last = (highExponent / stride).rounded(.up) * stride
            values = Swift.stride(from: first, through: last, by: stride).map { cleanedPower(1, $0) }
        }
        return AxisTicks(lower: values.first!, upper: values.last!, values: values, labels: values.map(logLabel))
    }

    /// Ticks for `values` on `scale`: the range of the values the scale accepts.
    public static func covering(_ values: [Double], scale: AxisScale, target: Int = 6, includeZero: Bool = false) -> AxisTicks {
        let drawn = values.filter(scale.accepts)
        var low = drawn.min() ?? .nan, high = drawn.max() ?? .nan
        if includeZero && scale == .linear && low.isFinite { (low, high) = (min(low, 0), max(high, 0)) }
        return scale == .linear ? linear(minimum: low, maximum: high, target: target)
                                : logarithmic(minimum: low, maximum: high, target: target)
    }

    /// 1, 2, 5 or 10 × 10^k, the first at least `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough > 0, rough.isFinite else { return 1 }
        let exponent = log10(rough).rounded(.down)
        let power = pow(10, exponent)
        let fraction = rough / power
        let mantissa: Double = fraction <= 1 + 1e-9 ? 1 : fraction <= 2 + 1e-9 ? 2 : fraction <= 5 + 1e-9 ? 5 : 10
        return mantissa * power
    }

    /// `value` rounded to the step's precision, so 0.30000000000000004 is 0.3 and -0 is 0.
    static func cleaned(_ value: Double, step: Double) -> Double {
        let decimals = max(0, -Int(log10(step).rounded(.down)) + 1)
        let rounded = (value * pow(10, Double(decimals))).rounded() / pow(10, Double(decimals))
        return rounded == 0 ? 0 : rounded
    }

    /// mantissa × 10^exponent, exact for the decimal it names (`5e-3`, not 0.005000000000000001).
    static func cleanedPower(_ mantissa: Double, _ exponent: Double) -> Double {
        Double("\(Int(mantissa))e\(Int(exponent))")!
    }

    /// The leading digit of a power-of-ten multiple.
    static func mantissa(of value: Double) -> Int { Int((value / pow(10, log10(value).rounded(.down))).rounded()) }

    /// A linear tick's label with as many decimals as the step needs (`0.25`, `1000`, `2.5×10⁻⁵`).
    static func linearLabel(_ value: Double, step: Double) -> String {
        let magnitude = max(abs(value), step)
        if magnitude >= 1e6 || step < 1e-4 {
            if value == 0 { return "0" }
            let exponent = Int(log10(step).rounded(.down))
            let scaled = value / pow(10, Double(exponent))
            let mantissaText = scaled.rounded() == scaled ? String(Int(scaled)) : String(format: "%g", scaled)
            return mantissaText + "×10" + superscript(exponent)
        }
        let decimals = max(0, -Int(log10(step).rounded(.down)))
        let text = String(format: "%.\(decimals)f", value)
        return text.hasPrefix("-") ? "−" + text.dropFirst() : text  // a true minus sign
    }

    /// A logarithmic tick's label: `0.001` to `1000` around 1, `10³`, `2×10⁻⁴` beyond.
    static func logLabel(_ value: Double) -> String {
        let exponent = Int(log10(value).rounded(.down))
        let lead = mantissa(of: value)
        if (-3...3).contains(exponent) {
            let decimals = max(0, -exponent)
            return String(format: "%.\(decimals)f", value)
        }
        return (lead == 1 ? "" : "\(lead)×") + "10" + superscript(exponent)
    }

    /// An integer in superscript digits (`⁻³`).
    static func superscript(_ number: Int) -> String {
        let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        return (number < 0 ? "⁻" : "") + String(abs(number)).map { digits[Int(String($0))!] }
    }
}
