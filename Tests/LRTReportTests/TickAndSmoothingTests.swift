import XCTest
@testable import LRTReport

final class TickTests: XCTestCase {
    func testLinearTicksAreOneTwoFiveTimesAPowerOfTenCoveringTheData() {
        let ticks = AxisTicks.linear(minimum: 0.13, maximum: 0.87)
        XCTAssertEqual(ticks.values, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
        XCTAssertEqual(ticks.labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        XCTAssertEqual(ticks.lower, 0)
        XCTAssertEqual(ticks.upper, 1)

        XCTAssertEqual(AxisTicks.linear(minimum: 3, maximum: 97).values, [0, 20, 40, 60, 80, 100])
        XCTAssertEqual(AxisTicks.linear(minimum: 3, maximum: 97).labels, ["0", "20", "40", "60", "80", "100"])
        // 1.02…1.38: step 0.1 (0.36/5 = 0.072 → 0.1), no 1.2000000000000002.
        let narrow = AxisTicks.linear(minimum: 1.02, maximum: 1.38)
        XCTAssertEqual(narrow.values, [1.0, 1.1, 1.2, 1.3, 1.4])
        XCTAssertEqual(narrow.labels, ["1.0", "1.1", "1.2", "1.3", "1.4"])
        // Negative values get a true minus sign; step 5 for a 14-wide range.
        let signed = AxisTicks.linear(minimum: -7, maximum: 7)
        XCTAssertEqual(signed.values, [-10, -5, 0, 5, 10])
        XCTAssertEqual(signed.labels, ["−10", "−5", "0", "5", "10"])
    }

    func testEveryNiceStepIsOneTwoOrFiveTimesAPowerOfTen() {
        var rough = 1.3e-6
        while rough < 1e7 {
            let step = AxisTicks.niceStep(rough)
            XCTAssertGreaterThanOrEqual(step, rough * (1 - 1e-12), "step \(step) for \(rough)")
            XCTAssertLessThanOrEqual(step, rough * 5, "step \(step) for \(rough)")
            let mantissa = step / pow(10, log10(step).rounded(.down))
            XCTAssertTrue([1.0, 2, 5, 10].contains { abs($0 - mantissa) < 1e-9 }, "step \(step) for \(rough)")
            rough *= 1.37
        }
    }

    func testAFlatOrEmptyRangeStillGetsAnAxis() {
        let flat = AxisTicks.linear(minimum: 5, maximum: 5)
        XCTAssertLessThan(flat.lower, 5)
        XCTAssertGreaterThan(flat.upper, 5)
        XCTAssertGreaterThanOrEqual(flat.values.count, 2)
        let empty = AxisTicks.covering([.nan, .nan], scale: .linear)
        XCTAssertEqual(empty.values, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
        let zero = AxisTicks.linear(minimum: 0, maximum: 0)
        XCTAssertEqual(zero.lower, -1)
        XCTAssertEqual(zero.upper, 1)
    }

    func testLogTicksArePowersOfTenOverManyDecadesAndOneTwoFiveOverFew() {
        let wide = AxisTicks.logarithmic(minimum: 0.003, maximum: 250)
        XCTAssertEqual(wide.values, [1e-3, 1e-2, 1e-1, 1, 10, 100, 1000])
        XCTAssertEqual(wide.labels, ["0.001", "0.01", "0.1", "1", "10", "100", "1000"])
        let narrow = AxisTicks.logarithmic(minimum: 0.3, maximum: 4)
        XCTAssertEqual(narrow.values, [0.2, 0.5, 1, 2, 5])
        XCTAssertEqual(narrow.labels, ["0.2", "0.5", "1", "2", "5"])
        let tiny = AxisTicks.logarithmic(minimum: 2e-9, maximum: 3e-2)
        XCTAssertEqual(tiny.values, [1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1])
        XCTAssertEqual(tiny.labels, ["10⁻¹⁰", "10⁻⁸", "10⁻⁶", "10⁻⁴", "0.01", "1"])
    }

    func testLogScaleSkipsZerosNegativesAndNaN() {
        let ticks = AxisTicks.covering([0, -3, .nan, .infinity, 0.05, 8], scale: .logarithmic)
        XCTAssertEqual(ticks.lower, 0.05, accuracy: 1e-15)
        XCTAssertEqual(ticks.upper, 10, accuracy: 1e-12)
        XCTAssertFalse(AxisScale.logarithmic.accepts(0))
        XCTAssertFalse(AxisScale.logarithmic.accepts(.nan))
        XCTAssertTrue(AxisScale.linear.accepts(0))
        XCTAssertFalse(AxisScale.linear.accepts(.nan))
    }
}

final class SmoothingTests: XCTestCase {
    func testDebiasedExponentialMovingAverageMatchesTensorBoard() {
        // s1 = 0.5·1 / (1 − 0.5) = 1; s2 = (0.25 + 1.5) / 0.75 = 2.3333; s3 = (0.875 + 2.5) / 0.875 = 3.857142…
        let smoothed = Smoothing.exponential(0.5).apply([1, 3, 5])
        XCTAssertEqual(smoothed[0], 1, accuracy: 1e-12)
        XCTAssertEqual(smoothed[1], 7.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(smoothed[2], 3.375 / 0.875, accuracy: 1e-12)
        for value in Smoothing.exponential(0.9).apply([4, 4, 4, 4]) { XCTAssertEqual(value, 4, accuracy: 1e-12) }
    }

    func testMissingValuesAreSkippedNotSpread() {
        let smoothed = Smoothing.exponential(0.5).apply([1, .nan, 3])
        XCTAssertTrue(smoothed[1].isNaN)
        XCTAssertEqual(smoothed[2], 7.0 / 3, accuracy: 1e-12)
        let window = Smoothing.window(2).apply([1, 2, .nan, 3, 4])
        XCTAssertEqual(window[0], 1)
        XCTAssertEqual(window[1], 1.5)
        XCTAssertTrue(window[2].isNaN)
        XCTAssertEqual(window[3], 2.5)
        XCTAssertEqual(window[4], 3.5)
    }

    func testLogarithmicSmoothingIsAGeometricMean() {
        let smoothed = Smoothing.window(2).apply([1, 100, 0, 10], logarithmic: true)
        XCTAssertEqual(smoothed[1], 10, accuracy: 1e-9)
        XCTAssertTrue(smoothed[2].isNaN)
        XCTAssertEqual(smoothed[3], (100.0 * 10).squareRoot(), accuracy: 1e-9)
    }

    func testParsingNamesTheBadValue() throws {
        XCTAssertEqual(try Smoothing.parse("0.6"), .exponential(0.6))
        XCTAssertEqual(try Smoothing.parse("ema:0.9"), .exponential(0.9))
        XCTAssertEqual(try Smoothing.parse("window:25"), .window(25))
        XCTAssertEqual(try Smoothing.parse("none"), Smoothing.none)
        XCTAssertEqual(try Smoothing.parse("0"), Smoothing.none)
        for bad in ["1", "-0.1", "window:0", "lots", "window:x"] {
            XCTAssertThrowsError(try Smoothing.parse(bad)) { error in
                XCTAssertTrue("\(error)".contains("--smooth \(bad)"), "\(error)")
            }
        }
    }

    func testPanelsAndSizesParse() throws {
        XCTAssertEqual(try PlotPanel.parseList("loss, gradient-norms,loss"), [.loss, .gradientNorms])
        XCTAssertThrowsError(try PlotPanel.parseList("loss,weights")) { error in
            XCTAssertTrue("\(error)".contains("unknown panel 'weights'"), "\(error)")
        }
        let size = try PlotConfiguration.parseSize("800x500")
        XCTAssertEqual(size.width, 800)
        XCTAssertEqual(size.height, 500)
        for bad in ["800", "800x", "10x10", "axb", "800x500x2"] {
            XCTAssertThrowsError(try PlotConfiguration.parseSize(bad)) { error in
                XCTAssertTrue("\(error)".contains("--size \(bad)"), "\(error)")
            }
        }
    }
}
